using Microsoft.Extensions.DependencyInjection;
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

    public static readonly TimeSpan DeviceOfflineAfter = TimeSpan.FromSeconds(1);

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.AddMemoryGrainStorage(WorkQueueGrain.StorageName);
            silo.AddSiloRoles([SiloRoles.Coordinator]);
            silo.Services.Configure<WorkQueueOptions>(o =>
            {
                o.LeaseDuration = LeaseDuration;
                o.MaxLostLeases = 2;
                o.ExpiryCheckPeriod = TimeSpan.FromMilliseconds(250);
            });
            silo.Services.Configure<DeviceRegistryOptions>(o => o.OfflineAfter = DeviceOfflineAfter);
        }
    }
}
