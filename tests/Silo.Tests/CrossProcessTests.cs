using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

/// <summary>
/// Machines that fail on their own: every silo its own process, killed with SIGKILL. A coordinator that dies loses
/// nothing and redoes nothing; workers ride out its absence; a trainer that dies leaves its checkpoints in the store.
/// </summary>
public class CrossProcessTests
{
    private static readonly (string, string)[] Simulated =
    [
        ("SrMobile:Simulate", "true"),
        ("SrMobile:Trainer:PollInterval", "00:00:00.2"),
        ("SrMobile:Device:PollInterval", "00:00:00.2"),
        ("SrMobile:WorkQueue:ExpiryCheckPeriod", "00:00:00.5"),
    ];

    private static string Grid(string name, string depths, string widths) => $$"""
        name: {{name}}
        scales: [3]
        depths: {{depths}}
        widths: {{widths}}
        quantization: [{kind: ptq}, {kind: qat, iterations: 10}]
        datasets: {train: simulated}
        devices: [local]
        """;

    private static async Task<SearchStatus> Submit(ProcessCluster cluster, string spec, string name)
    {
        var search = cluster.Grains.GetGrain<ISearchGrain>(name);
        Assert.True((await search.Submit(spec)).Accepted);
        return await search.Status();
    }

    private static Task<SearchStatus> Finished(ProcessCluster cluster, string name, TimeSpan within) =>
        ProcessCluster.WaitFor(() => cluster.Grains.GetGrain<ISearchGrain>(name).Status(), s => s.Finished, within, $"search {name} finishing");

    [Fact]
    public async Task A_coordinator_killed_mid_search_and_started_again_completes_it_training_each_candidate_once_and_losing_no_point()
    {
        await using var cluster = await ProcessCluster.Start([.. Simulated,
            ("SrMobile:Simulated:TrainingTime", "00:00:01"),
            ("SrMobile:Simulated:MeasurementTime", "00:00:00.3"),
            ("SrMobile:Trainer:Concurrency", "2"),
            // A lease granted just before the kill, whose answer never reached its worker, comes back this soon.
            ("SrMobile:WorkQueue:LeaseDuration", "00:00:10")]);
        await cluster.StartSilo("coordinator", "coordinator");
        await cluster.StartSilo("trainer", "trainer");
        await cluster.StartSilo("device", "device");
        var spec = Grid("killed", "[1, 2, 3, 4]", "[8, 16]");
        await Submit(cluster, spec, "killed");
        await ProcessCluster.WaitFor(() => cluster.Grains.GetGrain<ISearchGrain>("killed").Status(),
            s => s.Stages.GetValueOrDefault(CandidateStage.Done) >= 4, TimeSpan.FromMinutes(2), "a quarter of the candidates done");

        cluster.Kill("coordinator");
        await cluster.Restart("coordinator");

        var status = await Finished(cluster, "killed", TimeSpan.FromMinutes(4));
        Assert.Equal(16, status.Stages.GetValueOrDefault(CandidateStage.Done));
        var candidates = SearchGrid.Expand(SearchSpecReader.Parse(spec).Spec!).ToList();
        foreach (var candidate in candidates)
        {
            var view = await cluster.Grains.GetGrain<ICandidateGrain>(candidate.Key).Get();
            Assert.Equal(1, view.Attempts); // one training start: nothing was trained twice
            Assert.Single(view.Measurements);
        }
        var front = await cluster.Grains.GetGrain<IParetoGrain>(candidates[0].ParetoKey("local")).Get();
        Assert.Equal(candidates.Select(c => c.Key).Order(), front.All.Select(p => p.CandidateKey).Order());
        Assert.True(cluster.IsRunning("trainer") && cluster.IsRunning("device"));
    }

    [Fact]
    public async Task Workers_stay_up_while_the_coordinator_is_away_for_20_seconds_and_their_jobs_finish_once_when_it_returns()
    {
        await using var cluster = await ProcessCluster.Start([.. Simulated,
            ("SrMobile:Simulated:TrainingTime", "00:00:08"),
            ("SrMobile:Simulated:MeasurementTime", "00:00:25")]);
        await cluster.StartSilo("coordinator", "coordinator");
        await cluster.StartSilo("trainer", "trainer");
        await cluster.StartSilo("device", "device");
        var spec = Grid("away", "[1]", "[8]");
        await Submit(cluster, spec, "away");
        var trainers = cluster.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);
        var devices = cluster.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool("local"));
        // One candidate measuring on the device while the other trains.
        await ProcessCluster.WaitFor(async () => ((await trainers.Summary()).Leased, (await devices.Summary()).Leased),
            l => l is (1, 1), TimeSpan.FromMinutes(1), "a training and a measurement running at once");

        cluster.Kill("coordinator");
        await Task.Delay(TimeSpan.FromSeconds(20));
        Assert.True(cluster.IsRunning("trainer"), cluster.Log("trainer"));
        Assert.True(cluster.IsRunning("device"), cluster.Log("device"));
        await cluster.Restart("coordinator");

        await Finished(cluster, "away", TimeSpan.FromMinutes(3));
        foreach (var candidate in SearchGrid.Expand(SearchSpecReader.Parse(spec).Spec!))
        {
            var view = await cluster.Grains.GetGrain<ICandidateGrain>(candidate.Key).Get();
            Assert.Equal(CandidateStage.Done, view.Stage);
            Assert.Equal(1, view.Attempts);
            Assert.Equal(1, (await trainers.Get(candidate.TrainingJobId))!.Epoch);
            Assert.Equal(1, (await devices.Get(candidate.MeasurementJobId("local")))!.Epoch);
        }
        Assert.True(cluster.IsRunning("trainer") && cluster.IsRunning("device"));
    }

    [Fact]
    public async Task A_trainer_killed_mid_training_leaves_its_checkpoint_in_the_store_and_another_machine_resumes_from_it()
    {
        await using var cluster = await ProcessCluster.Start(
            ("SrMobile:Trainer:PollInterval", "00:00:00.2"),
            ("SrMobile:Trainer:Threads", "1"),
            ("SrMobile:Trainer:HeartbeatInterval", "00:00:00.5"),
            ("SrMobile:Trainer:CheckpointInterval", "00:00:01"),
            ("SrMobile:Device:PollInterval", "00:00:00.2"),
            ("SrMobile:WorkQueue:LeaseDuration", "00:00:05"),
            ("SrMobile:WorkQueue:ExpiryCheckPeriod", "00:00:00.5"));
        await cluster.StartSilo("coordinator", "coordinator,device");
        await cluster.StartSilo("trainer-a", "trainer");
        await cluster.StartSilo("trainer-b", "trainer");
        var spec = $$"""
            name: travel
            scales: [3]
            depths: [2]
            widths: [16]
            quantization: [{kind: ptq, calibration_images: 2}]
            training: {iterations: 400, batch_size: 8, patch_size: 32, lr: 2.0e-3}
            datasets: {train: "{{TestData.Samples}}", validation: "{{Path.Combine(TestData.RepositoryRoot, "samples", "test")}}"}
            devices: [local]
            protocol: {input: 36x64, warmup: 1, min_runs: 3, min_seconds: 0}
            """;
        await Submit(cluster, spec, "travel");
        var key = SearchGrid.Expand(SearchSpecReader.Parse(spec).Spec!).Single().Key;
        var candidate = cluster.Grains.GetGrain<ICandidateGrain>(key);
        var trainers = cluster.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);

        // Past the first checkpoint (iteration 80) and stored: then the trainer's machine dies.
        await ProcessCluster.WaitFor(candidate.Get, v => v.Checkpoints?.Any(f => f.RelativePath.EndsWith("float/checkpoints/last.ckpt", StringComparison.Ordinal)) == true,
            TimeSpan.FromMinutes(5), "a stored checkpoint");
        var first = (await trainers.Get(key + "/train"))!.WorkerId!;
        cluster.Kill(first);
        var second = first == "trainer-a" ? "trainer-b" : "trainer-a";

        var view = await ProcessCluster.WaitFor(candidate.Get, v => v.Stage is CandidateStage.Done or CandidateStage.Failed, TimeSpan.FromMinutes(6), "the candidate finishing");
        Assert.True(view.Stage == CandidateStage.Done, string.Join("; ", view.Errors));
        Assert.Equal(2, view.Attempts);
        Assert.Equal(400, view.Trained!.Iterations);
        var job = (await trainers.Get(key + "/train"))!;
        Assert.Equal((JobStatus.Completed, second), (job.Status, job.WorkerId));
        // The other machine's own work folder: its run started from the stored checkpoint, not from iteration 0.
        var log = File.ReadAllText(Directory.GetFiles(cluster.WorkFolder(second), "float.log", SearchOption.AllDirectories).Single());
        var resumed = System.Text.RegularExpressions.Regex.Match(log, @"resume at iteration (\d+)");
        Assert.True(resumed.Success, log);
        Assert.True(int.Parse(resumed.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 80, resumed.Value);
        Assert.Single(view.Measurements);
    }
}
