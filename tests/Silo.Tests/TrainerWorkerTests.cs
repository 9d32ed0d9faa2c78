using System.Security.Cryptography;
using Orleans.TestingHost;
using SrMobile.Contracts;
using SrMobile.Grains;
using SrMobile.Grains.Placement;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

public class TrainerWorkerTests
{
    private sealed class EmbeddedSilo : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo) =>
            silo.AddSrMobileRoles(silo.Configuration, [SiloRoles.Coordinator, SiloRoles.Trainer, SiloRoles.Device], silo.Configuration["Test:StateFolder"]!);
    }

    [Fact]
    public async Task One_embedded_silo_takes_a_candidate_through_training_ptq_and_measurement_onto_the_pareto_front()
    {
        using var work = TestData.NewTemporaryFolder();
        var builder = new TestClusterBuilder { Options = { InitialSilosCount = 1 } };
        builder.Properties["Test:StateFolder"] = work.File("state");
        builder.Properties["SrMobile:Trainer:WorkFolder"] = work.File("work");
        builder.Properties["SrMobile:Trainer:Threads"] = "1";
        builder.Properties["SrMobile:Trainer:PollInterval"] = "00:00:00.2";
        builder.Properties["SrMobile:Trainer:HeartbeatInterval"] = "00:00:00.5";
        builder.Properties["SrMobile:Device:PollInterval"] = "00:00:00.2";
        builder.AddSiloBuilderConfigurator<EmbeddedSilo>();
        await using var cluster = builder.Build();
        await cluster.DeployAsync();

        var spec = $$"""
            name: tiny
            scales: [3]
            depths: [1]
            widths: [6]
            quantization: [{kind: ptq, calibration_images: 2}]
            training: {iterations: 40, batch_size: 4, patch_size: 24, lr: 2.0e-3}
            datasets: {train: "{{TestData.Samples}}", validation: "{{Path.Combine(TestData.RepositoryRoot, "samples", "test")}}"}
            devices: [local]
            protocol: {input: 36x64, warmup: 1, min_runs: 3, min_seconds: 0}
            """;
        var submitted = await cluster.GrainFactory.GetGrain<ISearchGrain>("tiny").Submit(spec);
        Assert.True(submitted.Accepted, string.Join("; ", submitted.Errors));
        var (parsed, _) = SearchSpecReader.Parse(spec);
        var key = SearchGrain.Expand(parsed!).Single().Key;
        var candidate = cluster.GrainFactory.GetGrain<ICandidateGrain>(key);

        var deadline = DateTime.UtcNow.AddMinutes(8);
        CandidateView view;
        while ((view = await candidate.Get()).Stage is not (CandidateStage.Done or CandidateStage.Failed) && DateTime.UtcNow < deadline)
            await Task.Delay(250);
        Assert.True(view.Stage == CandidateStage.Done, $"stage {view.Stage}: {string.Join("; ", view.Errors)}");

        var trained = view.Trained!;
        Assert.Equal(40, trained.Iterations);
        Assert.InRange(trained.Int8Psnr, 25, 60);
        Assert.InRange(trained.FloatPsnr - trained.Int8Psnr, -0.5, 0.5); // int8 close to float, measured on the engine
        Assert.Equal(["float-checkpoint", "float-onnx", "int8-onnx", "training-record"], trained.Artifacts.Select(a => a.Kind));
        foreach (var artifact in trained.Artifacts)
        {
            var path = new Uri(artifact.Uri).LocalPath;
            Assert.Equal(artifact.Sha256, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant());
        }
        var job = await cluster.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateGrain.TrainerPool).Get($"{key}/train");
        Assert.Equal(JobStatus.Completed, job!.Status);

        // The device measured the int8 model itself: its PSNR is the engine's, equal to the trainer's evaluation.
        var measurement = view.Measurements.Single();
        Assert.Equal("local", measurement.Device);
        Assert.True(measurement.MedianMs > 0 && measurement.Runs >= 3);
        Assert.Equal(trained.Int8Psnr, measurement.Psnr, 9);
        var front = await cluster.GrainFactory.GetGrain<IParetoGrain>("tiny/x3/local").Get();
        Assert.Equal(key, front.Front.Single().CandidateKey);
        await cluster.StopAllSilosAsync();
    }
}
