using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;
using SrMobile.Grains.Placement;

namespace SrMobile.Grains.Tests;

/// <summary>A real two-silo Orleans cluster (TestingHost) with short leases, shared by a test class.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(1.5);

    public TestCluster Cluster { get; } = new TestClusterBuilder { Options = { InitialSilosCount = 2 } }
        .AddSiloBuilderConfigurator<SiloConfigurator>()
        .Build();

    public IGrainFactory Grains => Cluster.GrainFactory;

    public Task InitializeAsync() => Cluster.DeployAsync();

    public static readonly TimeSpan SearchWatchPeriod = TimeSpan.FromMilliseconds(300);

    public static readonly TimeSpan DeviceOfflineAfter = TimeSpan.FromSeconds(3);

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            // Orleans' own serialization, as the real stores use (the memory store's JSON default cannot read every state back).
            silo.AddMemoryGrainStorage("memory", (OptionsBuilder<MemoryGrainStorageOptions> o) => o.Configure<Serializer>((options, serializer) =>
                options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer)));
            silo.Services.AddKeyedSingleton<IGrainStorage>(WorkQueueGrain.StorageName,
                (services, _) => new FaultInjection(services.GetRequiredKeyedService<IGrainStorage>("memory")));
            silo.UseInMemoryReminderService();
            silo.AddSiloRoles([SiloRoles.Coordinator]);
            silo.Services.Configure<WorkQueueOptions>(o =>
            {
                o.LeaseDuration = LeaseDuration;
                o.ExpiryCheckPeriod = TimeSpan.FromMilliseconds(250);
            });
            silo.Services.Configure<DeviceRegistryOptions>(o => o.OfflineAfter = DeviceOfflineAfter);
            silo.Services.Configure<CandidateOptions>(o => o.MaxLostLeases = 2);
            silo.Services.Configure<SearchOptions>(o => o.WatchPeriod = SearchWatchPeriod);
        }
    }
}
