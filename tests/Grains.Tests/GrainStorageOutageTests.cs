using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Grains.Tests;

/// <summary>The storage goes away under a running silo (Azurite stopped): retried, then a clear error; back in time: no error.</summary>
public class GrainStorageOutageTests
{
    // 5 attempts, 0.4 s doubling: a retry window of about 6 s, long enough for Azurite to come back within it.
    private static readonly (string, string)[] Retries = [("SrMobile:Storage:Retry:Attempts", "5"), ("SrMobile:Storage:Retry:BaseDelay", "00:00:00.4")];

    [Fact]
    public async Task A_write_fails_clearly_during_an_outage_succeeds_when_storage_returns_within_the_retries_and_keeps_earlier_state()
    {
        var root = Path.Combine(Path.GetTempPath(), "srmobile-tests", Guid.NewGuid().ToString("N"));
        await using var azurite = await Azurite.StartNew();
        await using (var cluster = await StorageCluster.Start(StorageCluster.AzureTable, root, azurite, 1, azureClustering: false, Retries))
        {
            var queue = cluster.GrainFactory.GetGrain<IWorkQueueGrain>("outage");
            Assert.True(await queue.Enqueue(new WorkItem("before", 0, "{}")));

            await azurite.Stop();
            var failure = await Assert.ThrowsAnyAsync<Exception>(() => queue.Enqueue(new WorkItem("lost", 0, "{}")));
            Assert.Contains("grain storage 'srmobile': writing state 'queue.0' of grain workqueue/outage failed after 5 attempt(s)", failure.Message);
            Assert.Contains("Connection refused", failure.Message);

            var write = queue.Enqueue(new WorkItem("after", 0, "{}"));
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            await azurite.Start();
            Assert.True(await write);
            await cluster.StopAllSilosAsync();
        }

        // A new cluster reads what was written before and after the outage from the storage itself.
        await using var restarted = await StorageCluster.Start(StorageCluster.AzureTable, root, azurite, 1, azureClustering: false);
        var reread = restarted.GrainFactory.GetGrain<IWorkQueueGrain>("outage");
        Assert.Equal(JobStatus.Queued, (await reread.Get("before"))!.Status);
        Assert.Equal(JobStatus.Queued, (await reread.Get("after"))!.Status);
        // The refused job is not there: the queue deactivated on the failed write instead of keeping it in memory.
        Assert.Null(await reread.Get("lost"));
        await restarted.StopAllSilosAsync();
    }
}
