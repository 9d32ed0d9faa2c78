using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Grains.Tests;

/// <summary>
/// The must-hold of durable state, for every storage kind: a whole cluster stops and a new one on the same storage
/// carries on with nothing lost. The Azure kinds also find each other through Azure Table membership in Azurite.
/// </summary>
public class GrainStorageRestartTests
{
    [Theory]
    [InlineData(StorageCluster.File)]
    [InlineData(StorageCluster.AzureTable)]
    [InlineData(StorageCluster.AzureBlob)]
    public async Task Stopping_and_restarting_every_silo_keeps_searches_candidates_and_queues(string kind)
    {
        var root = Path.Combine(Path.GetTempPath(), "srmobile-tests", Guid.NewGuid().ToString("N"));
        await using var azurite = await StorageCluster.StartStorage(kind);
        var azureClustering = azurite is not null;
        // The local kind is one machine, one silo: a data folder has one owner (the Azure kinds share the account).
        var silos = kind == StorageCluster.File ? 1 : 2;
        const string Spec = """
            name: restart
            scales: [2, 3]
            depths: [1]
            widths: [4]
            quantization: [{kind: ptq}]
            datasets: {train: t}
            devices: [local]
            """;
        try
        {
            string finished;
            await using (var first = await StorageCluster.Start(kind, root, azurite, silos, azureClustering))
            {
                Assert.True((await first.GrainFactory.GetGrain<ISearchGrain>("restart").Submit(Spec)).Created);
                await SearchExpansion.Expanded(first.GrainFactory.GetGrain<ISearchGrain>("restart"));
                var queue = first.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);
                var done = (await queue.Lease("w1"))!;
                Assert.True((await queue.Complete(done.LeaseId, "trained")).Accepted);
                finished = done.JobId;
                await queue.Lease("w-that-dies"); // leased, never renewed: must come back after the restart
                await first.StopAllSilosAsync();
            }

            await using var second = await StorageCluster.Start(kind, root, azurite, silos, azureClustering);
            var restarted = second.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);
            Assert.Equal("trained", (await restarted.Get(finished))!.Result);
            Assert.False((await second.GrainFactory.GetGrain<ISearchGrain>("restart").Submit(Spec)).Created);
            Assert.Equal(2, (await second.GrainFactory.GetGrain<ISearchGrain>("restart").Status()).Stages[CandidateStage.Queued]);
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            var again = await restarted.Lease("w2");
            Assert.NotNull(again);
            Assert.NotEqual(finished, again.JobId);
            Assert.Equal(2, again.Epoch);
            Assert.Equal((0, 1, 1, 0, 0), (await restarted.Summary()).Counts);
            await second.StopAllSilosAsync();
        }
        finally
        {
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }
    }
}
