using Azure.Storage.Blobs;
using SrMobile.Artifacts;
using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

public class TrainerWorkerTests
{
    /// <summary>Local storage, and the azure kind against Azurite (Table grain state, artifacts in Blob: the device fetches them).</summary>
    [Theory]
    [InlineData("local")]
    [InlineData("azure")]
    public async Task One_embedded_silo_takes_a_candidate_through_training_ptq_and_measurement_onto_the_pareto_front(string storage)
    {
        using var work = TestData.NewTemporaryFolder();
        await using var azurite = storage == "azure" ? await Azurite.StartNew() : null;
        (string, string)[] settings = azurite is null
            ? [("SrMobile:Trainer:HeartbeatInterval", "00:00:00.5")]
            : [("SrMobile:Trainer:HeartbeatInterval", "00:00:00.5"), ("SrMobile:Storage:Kind", "azure"), ("SrMobile:Storage:ConnectionString", azurite.ConnectionString),
                ("SrMobile:Device:ArtifactFolder", work.File("device"))];
        await using var cluster = await SiloTestCluster.Start<EveryRole>(work, 1, settings);
        var key = await SiloTestCluster.SubmitOneCandidate(cluster, "tiny", 1, 6, "{iterations: 40, batch_size: 4, patch_size: 24, lr: 2.0e-3}");
        var view = await SiloTestCluster.WaitFor(cluster.GrainFactory.GetGrain<ICandidateGrain>(key), CandidateStage.Done);

        var trained = view.Trained!;
        Assert.Equal(40, trained.Iterations);
        Assert.InRange(trained.Int8Psnr, 25, 60);
        Assert.InRange(trained.FloatPsnr - trained.Int8Psnr, -0.5, 0.5); // int8 close to float, measured on the engine
        // The spec fixes no device's activation type, so both int8 graphs are exported and scored by the engine.
        Assert.Equal(["float-checkpoint", "float-onnx", "int8-onnx", "int8-onnx-int8-activations", "training-record", "validation-images"], trained.Artifacts.Select(a => a.Kind));
        Assert.Equal(["uint8", "int8"], trained.Graphs!.Select(g => g.Activations));
        Assert.Equal(trained.Int8Psnr, trained.Graphs![0].Psnr);
        Assert.InRange(trained.Graphs[1].Psnr - trained.Graphs[0].Psnr, -0.1, 0.1);
        IArtifactStore store = azurite is null
            ? new LocalArtifactStore(work.File("artifacts"))
            : new BlobArtifactStore(new BlobServiceClient(azurite.ConnectionString));
        foreach (var artifact in trained.Artifacts)
        {
            Assert.StartsWith(azurite is null ? new Uri(work.File("artifacts")).AbsoluteUri : $"http://127.0.0.1:{azurite.BlobPort}/", artifact.Uri);
            var path = await store.Fetch(artifact, work.File("fetched"), CancellationToken.None); // verifies the SHA-256
            Assert.Equal(artifact.Bytes, new FileInfo(path).Length);
        }
        var job = await cluster.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Get($"{key}/train");
        Assert.Equal(JobStatus.Completed, job!.Status);

        // The device measured the int8 model itself: its PSNR is the engine's, equal to the trainer's evaluation.
        var measurement = view.Measurements.Single();
        Assert.Equal("local", measurement.Device);
        Assert.True(measurement.MedianMs > 0 && measurement.Runs >= 3);
        Assert.Equal(trained.Int8Psnr, measurement.Psnr, 9);
        // An x86 worker measures the uint8 graph; every number carries its CoV and the canary of its machine then.
        Assert.Equal("uint8", measurement.Activations);
        Assert.InRange(measurement.Cov, 0, 10);
        Assert.InRange(measurement.Repeats, 0, 2);
        var canary = measurement.Canary!;
        Assert.True(canary.BaselineMs > 0 && canary.MedianMs > 0);
        Assert.Contains("uint8", canary.Signature);
        var worker = (await cluster.GrainFactory.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).List()).Single();
        Assert.Equal(canary, worker.Canary);
        var front = await cluster.GrainFactory.GetGrain<IParetoGrain>("tiny/x3/local").Get();
        Assert.Equal(key, front.Front.Single().CandidateKey);
        await cluster.StopAllSilosAsync();
    }
}
