using Orleans.TestingHost;
using SrMobile.Grains.Placement;

namespace SrMobile.Grains.Tests;

public interface IWhereGrain : IGrainWithIntegerKey
{
    Task<string> Silo();
}

[SiloRole(SiloRoles.Trainer)]
public sealed class TrainerBoundGrain(ILocalSiloDetails silo) : Grain, IWhereGrain
{
    public Task<string> Silo() => Task.FromResult(silo.Name);
}

public class SiloRolePlacementTests
{
    private sealed class RoleBySiloName : ISiloConfigurator
    {
        // The first silo is the coordinator, the others trainers.
        public void Configure(ISiloBuilder silo)
        {
            silo.AddSiloRoles([silo.Configuration["Orleans:Name"] == "Primary" ? SiloRoles.Coordinator : SiloRoles.Trainer]);
        }
    }

    [Fact]
    public async Task A_role_bound_grain_is_placed_only_on_silos_with_that_role()
    {
        var builder = new TestClusterBuilder { Options = { InitialSilosCount = 2 } };
        builder.AddSiloBuilderConfigurator<RoleBySiloName>();
        await using var cluster = builder.Build();
        await cluster.DeployAsync();
        var placed = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => cluster.GrainFactory.GetGrain<IWhereGrain>(i).Silo()));
        // 20 activations spread at random would land on the coordinator too (all missing it: p = 2⁻²⁰).
        Assert.All(placed, silo => Assert.Equal("Secondary_1", silo));
        await cluster.StopAllSilosAsync();
    }
}
