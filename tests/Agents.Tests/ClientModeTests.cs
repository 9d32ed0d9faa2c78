using SrMobile.Contracts;
using SrMobile.Engine.Imaging;
using SrMobile.Tests;

namespace SrMobile.Agents.Tests;

/// <summary>
/// Agents in client mode against a real cluster: a coordinator and trainer <c>srmobile-silo</c> on Azurite (so models
/// live in Blob storage), and <c>srmobile-agent</c> processes that are given only a gateway and a token. They join,
/// lease the measurement, fetch the model and the validation images through the cluster, measure and report.
/// </summary>
public class ClientModeTests
{
    private static string Spec(string name, string device, string validation, string protocol) => $$"""
        name: {{name}}
        scales: [3]
        depths: [1]
        widths: [6]
        quantization: [{kind: ptq, calibration_images: 2}]
        training: {iterations: 30, batch_size: 4, patch_size: 24, lr: 2.0e-3}
        datasets: {train: "{{TestData.Samples}}", validation: "{{validation}}"}
        devices: [{{device}}]
        protocol: {{protocol}}
        """;

    private const string QuickProtocol = "{input: 24x32, warmup: 1, min_runs: 3, min_seconds: 0}";

    internal static async Task<ProcessCluster> Coordinator(params (string Key, string Value)[] settings)
    {
        var cluster = await ProcessCluster.Start([
            ("SrMobile:Trainer:PollInterval", "00:00:00.2"),
            ("SrMobile:Trainer:Threads", "1"),
            ("SrMobile:WorkQueue:ExpiryCheckPeriod", "00:00:00.5"), .. settings]);
        await cluster.StartSilo("coordinator", "coordinator,trainer");
        return cluster;
    }

    /// <summary>Submits a one-candidate search whose validation images are small crops of the samples (emulation is slow).</summary>
    internal static async Task<string> Submit(ProcessCluster cluster, string name, string device, string protocol = QuickProtocol)
    {
        var validation = Path.Combine(cluster.Folder, "validation");
        Directory.CreateDirectory(validation);
        foreach (var image in ImageFile.ListImages(Path.Combine(TestData.RepositoryRoot, "samples", "test")))
            ImageFile.WritePng(ImageFile.Read(image).Crop(100, 100, 60, 48), Path.Combine(validation, Path.GetFileName(image)));
        var spec = Spec(name, device, validation, protocol);
        var search = cluster.Grains.GetGrain<ISearchGrain>(name);
        var submitted = await search.Submit(spec);
        Assert.True(submitted.Accepted, string.Join("; ", submitted.Errors));
        await SearchExpansion.Expanded(search);
        return SearchGrid.Expand(SearchSpecReader.Parse(spec).Spec!).Single().Key;
    }

    internal static async Task<CandidateView> Done(ProcessCluster cluster, string key, AgentProcess agent)
    {
        try
        {
            return await ProcessCluster.WaitFor(() => cluster.Grains.GetGrain<ICandidateGrain>(key).Get(),
                v => v.Stage is CandidateStage.Done or CandidateStage.Failed || agent.HasExited, TimeSpan.FromMinutes(10), $"candidate {key} done");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\nagent log:\n{agent.Log()}", e);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_agent_with_only_a_token_joins_measures_on_its_own_engine_and_stops_saying_why_once_revoked(bool arm64)
    {
        await using var cluster = await Coordinator();
        var device = arm64 ? "lab-arm64" : "lab-x64";
        var tokens = cluster.Grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key);
        var token = await tokens.Create(device, null);
        await using var agent = AgentProcess.Run(arm64, cluster.Gateway("coordinator"), cluster.ClusterId, token.Secret, $"{device}-1", Path.Combine(cluster.Folder, "agent"));
        // What a board is given: no storage credential anywhere in its command line or environment.
        Assert.DoesNotContain(agent.Start.ArgumentList, a => a.Contains("AccountKey", StringComparison.Ordinal));
        Assert.DoesNotContain(agent.Start.Environment, e => e.Key.Contains("Storage", StringComparison.Ordinal) || (e.Value ?? "").Contains("AccountKey", StringComparison.Ordinal));

        var key = await Submit(cluster, "agents", device);
        var view = await Done(cluster, key, agent);
        Assert.True(view.Stage == CandidateStage.Done, $"{view.Stage}: {string.Join("; ", view.Errors)}\nagent log:\n{agent.Log()}");
        var measured = view.Measurements.Single(m => m.Device == device);
        Assert.StartsWith("onnxruntime", measured.Engine);
        Assert.True(measured.MedianMs > 0);
        // The graph its architecture runs best: int8 activations on ARM, uint8 on x86.
        Assert.Equal(arm64 ? "int8" : "uint8", measured.Activations);
        // Its PSNR is its own engine's output on the images that came through the cluster: the trainer's int8
        // evaluation of that same graph, to 0.01 dB.
        var expected = view.Trained!.Int8PsnrOf(measured.Activations)!.Value;
        Assert.InRange(measured.Psnr, expected - 0.01, expected + 0.01);
        Assert.DoesNotContain(view.Errors, e => e.Contains("on-device int8 PSNR", StringComparison.Ordinal));
        // The number carries its noise and the canary of the board when it was taken.
        Assert.True(double.IsFinite(measured.Cov));
        Assert.Contains(measured.Activations, measured.Canary!.Signature);
        Assert.True(measured.Canary.BaselineMs > 0);

        var listed = (await cluster.Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).List()).Single(d => d.Registration.WorkerId == $"{device}-1");
        Assert.Equal(token.Token.Id, listed.TokenId);
        Assert.Equal(device, listed.Registration.DeviceKey);
        Assert.Equal(arm64 ? "Arm64" : "X64", listed.Registration.Environment["architecture"]);
        Assert.Equal(arm64 ? "true" : "false", listed.Registration.Environment["emulated"]);
        if (arm64)
            Assert.Equal("Neoverse-N1", listed.Registration.Environment["cpu_model"]);
        Assert.Equal(1, listed.JobsDone);
        Assert.Equal(measured.Canary.Signature, listed.Canary!.Signature);

        await tokens.Revoke(token.Token.Id);
        Assert.Equal(3, await agent.Exited(TimeSpan.FromMinutes(1)));
        Assert.Contains($"token {token.Token.Id} was revoked", agent.Log());
    }

    [Fact]
    public async Task An_unknown_token_is_refused_at_once_and_the_agent_says_so()
    {
        await using var cluster = await Coordinator();
        await using var agent = AgentProcess.Run(false, cluster.Gateway("coordinator"), cluster.ClusterId, "srmd_000000000000_not-issued", "stranger", Path.Combine(cluster.Folder, "stranger"));
        Assert.Equal(3, await agent.Exited(TimeSpan.FromMinutes(1)));
        Assert.Contains("not one this cluster issued", agent.Log());
        Assert.DoesNotContain(await cluster.Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).List(), d => d.Registration.WorkerId == "stranger");
    }

    [Fact]
    public async Task An_agent_killed_mid_measurement_leaves_the_job_to_another_agent_of_its_key_which_measures_it_once()
    {
        await using var cluster = await Coordinator(("SrMobile:WorkQueue:LeaseDuration", "00:00:06"));
        var token = await cluster.Grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key).Create("lab-pair", null);
        var registry = cluster.Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key);
        await using var first = AgentProcess.Run(false, cluster.Gateway("coordinator"), cluster.ClusterId, token.Secret, "pair-1", Path.Combine(cluster.Folder, "pair-1"));
        await ProcessCluster.WaitFor(registry.List, l => l.Any(d => d.Registration.WorkerId == "pair-1" && d.Online), TimeSpan.FromMinutes(1), "pair-1 joined");
        // A measurement of 15 s at least: long enough to kill its agent in the middle of it.
        var key = await Submit(cluster, "pair", "lab-pair", "{input: 24x32, warmup: 1, min_runs: 3, min_seconds: 15}");
        await ProcessCluster.WaitFor(registry.List, l => l.Single(d => d.Registration.WorkerId == "pair-1").Health == DeviceHealth.Busy,
            TimeSpan.FromMinutes(8), "pair-1 measuring");
        first.Kill();

        await using var second = AgentProcess.Run(false, cluster.Gateway("coordinator"), cluster.ClusterId, token.Secret, "pair-2", Path.Combine(cluster.Folder, "pair-2"));
        var view = await Done(cluster, key, second);
        Assert.True(view.Stage == CandidateStage.Done, $"{view.Stage}: {string.Join("; ", view.Errors)}\n{second.Log()}");
        var job = (await cluster.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool("lab-pair")).Get(view.Spec!.MeasurementJobId("lab-pair")))!;
        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.Equal(2, job.Epoch);
        Assert.Equal(1, job.LostLeases);
        Assert.Equal("pair-2", job.WorkerId);
        var workers = await registry.List();
        Assert.Equal(0, workers.Single(d => d.Registration.WorkerId == "pair-1").JobsDone);
        Assert.Equal(1, workers.Single(d => d.Registration.WorkerId == "pair-2").JobsDone);
        Assert.Single(view.Measurements);
    }

    [Fact]
    public async Task An_engine_that_crashes_or_hangs_fails_its_measurement_by_name_and_the_agent_lives_on_until_quarantined()
    {
        await using var cluster = await Coordinator();
        var token = await cluster.Grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key).Create("lab-faulty", null);
        await using var agent = AgentProcess.Run(false, cluster.Gateway("coordinator"), cluster.ClusterId, token.Secret, "faulty", Path.Combine(cluster.Folder, "faulty"),
            // No canary: the first engine child must be the measurement's.
            ("SrMobile:Device:EngineTimeout", "00:00:08"), ("SrMobile:Device:Canary:Every", "0"));
        // Every run of this protocol takes 60 s: past the agent's engine timeout.
        var key = await Submit(cluster, "faults", "lab-faulty", "{input: 24x32, warmup: 1, min_runs: 3, min_seconds: 60}");

        // The first engine child dies by SIGKILL (a crash, as the agent sees it); the next ones hang until the timeout.
        var child = await ProcessCluster.WaitFor(() => Task.FromResult(EngineChildren()), c => c.Count > 0, TimeSpan.FromMinutes(8), "an engine child process");
        foreach (var process in child)
            process.Kill();
        var view = await ProcessCluster.WaitFor(() => cluster.Grains.GetGrain<ICandidateGrain>(key).Get(), v => v.Stage == CandidateStage.Failed || agent.HasExited,
            TimeSpan.FromMinutes(3), "the candidate failing");
        Assert.False(agent.HasExited, agent.Log());
        Assert.Equal(CandidateStage.Failed, view.Stage);
        var errors = string.Join("\n", view.Errors);
        Assert.Contains("the engine was killed by signal 9", errors);
        Assert.Contains("the engine hung", errors);
        Assert.Contains("no result within 8 s, killed", errors);

        var worker = await ProcessCluster.WaitFor(() => cluster.Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).List(),
            l => l.Single(d => d.Registration.WorkerId == "faulty").Health == DeviceHealth.Quarantined, TimeSpan.FromSeconds(30), "the agent quarantined");
        Assert.Equal(3, worker.Single(d => d.Registration.WorkerId == "faulty").JobsFailed);
        Assert.Empty(EngineChildren());
        Assert.False(agent.HasExited);
    }

    /// <summary>The engine child processes of agents on this machine (<c>srmobile-agent … engine REQUEST RESULT</c>).</summary>
    private static List<System.Diagnostics.Process> EngineChildren() =>
        [.. System.Diagnostics.Process.GetProcessesByName("dotnet").Where(p =>
        {
            try
            {
                return File.ReadAllText($"/proc/{p.Id}/cmdline").Contains("srmobile-agent.dll\0engine\0", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        })];
}
