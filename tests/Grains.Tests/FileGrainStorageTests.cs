using SrMobile.Tests;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using SrMobile.Contracts;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;

namespace SrMobile.Grains.Tests;

public class FileGrainStorageTests
{
    private sealed class FileStorageSilo : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.AddFileGrainStorage(WorkQueueGrain.StorageName, silo.Configuration["StorageRoot"]!);
            silo.AddSiloRoles([SiloRoles.Coordinator]);
            silo.Services.Configure<WorkQueueOptions>(o =>
            {
                o.LeaseDuration = TimeSpan.FromSeconds(1);
                o.ExpiryCheckPeriod = TimeSpan.FromMilliseconds(200);
            });
        }
    }

    private static async Task<TestCluster> Start(string root)
    {
        var builder = new TestClusterBuilder { Options = { InitialSilosCount = 2 } };
        builder.Properties["StorageRoot"] = root;
        builder.AddSiloBuilderConfigurator<FileStorageSilo>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    [Fact]
    public async Task Stopping_and_restarting_every_silo_keeps_searches_candidates_and_queues()
    {
        var root = Path.Combine(Path.GetTempPath(), "srmobile-tests", Guid.NewGuid().ToString("N"));
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
            await using (var first = await Start(root))
            {
                Assert.True((await first.GrainFactory.GetGrain<ISearchGrain>("restart").Submit(Spec)).Created);
                await SearchExpansion.Expanded(first.GrainFactory.GetGrain<ISearchGrain>("restart"));
                var queue = first.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateGrain.TrainerPool);
                var done = (await queue.Lease("w1"))!;
                Assert.True((await queue.Complete(done.LeaseId, "trained")).Accepted);
                finished = done.JobId;
                await queue.Lease("w-that-dies"); // leased, never renewed: must come back after the restart
                await first.StopAllSilosAsync();
            }

            await using var second = await Start(root);
            var restarted = second.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateGrain.TrainerPool);
            Assert.Equal("trained", (await restarted.Get(finished))!.Result);
            Assert.False((await second.GrainFactory.GetGrain<ISearchGrain>("restart").Submit(Spec)).Created);
            Assert.Equal(2, (await second.GrainFactory.GetGrain<ISearchGrain>("restart").Status()).Stages[CandidateStage.Queued]);
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            var again = await restarted.Lease("w2");
            Assert.NotNull(again);
            Assert.NotEqual(finished, again.JobId);
            Assert.Equal(2, again.Attempt);
            Assert.Equal(new QueueSummary(0, 1, 1, 0), await restarted.Summary());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
