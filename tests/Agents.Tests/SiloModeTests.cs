using SrMobile.Contracts;

namespace SrMobile.Agents.Tests;

public class SiloModeTests
{
    [Fact]
    public async Task An_agent_in_silo_mode_joins_as_a_device_silo_hosts_no_grain_and_measures_under_its_own_member_token()
    {
        await using var cluster = await ClientModeTests.Coordinator();
        await using var agent = AgentProcess.RunSilo(cluster.StorageConnectionString, cluster.ClusterId, "node-arm", "node-1", Path.Combine(cluster.Folder, "node"));

        var key = await ClientModeTests.Submit(cluster, "daemonset", "node-arm");
        var view = await ClientModeTests.Done(cluster, key, agent);
        Assert.True(view.Stage == CandidateStage.Done, $"{view.Stage}: {string.Join("; ", view.Errors)}\nagent log:\n{agent.Log()}");
        var measured = view.Measurements.Single();
        Assert.Equal("node-arm", measured.Device);
        Assert.True(measured.MedianMs > 0);
        Assert.NotNull(measured.Canary);

        // It came in as a silo of the cluster (its membership row), not a client, and holds the coordinator's grains nowhere.
        var management = cluster.Grains.GetGrain<IManagementGrain>(0);
        var silos = await management.GetDetailedHosts(onlyActive: true);
        Assert.Equal(2, silos.Length);
        var withOurGrains = new List<SiloAddress>();
        foreach (var silo in silos)
        {
            var grains = await management.GetDetailedGrainStatistics(hostsIds: [silo.SiloAddress]);
            if (grains.Any(g => g.GrainType.Contains("SrMobile", StringComparison.Ordinal)))
                withOurGrains.Add(silo.SiloAddress);
        }
        Assert.Single(withOurGrains); // the coordinator's

        // Without a token it issued itself a member token of its key, as a silo's device worker does.
        var worker = (await cluster.Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).List()).Single(d => d.Registration.WorkerId == "node-1");
        var tokens = await cluster.Grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key).List();
        var token = tokens.Single(t => t.Id == worker.TokenId);
        Assert.Equal(("node-arm", "node-1"), (token.DeviceKey, token.Member));
        Assert.Equal(1, worker.JobsDone);
    }
}
