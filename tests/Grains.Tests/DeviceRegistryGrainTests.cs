using SrMobile.Contracts;

namespace SrMobile.Grains.Tests;

public class DeviceRegistryGrainTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static DeviceRegistration Board(string worker, string key = "rk3588") =>
        new(key, worker, "onnxruntime 1.23", new Dictionary<string, string> { ["architecture"] = "Arm64" });

    [Fact]
    public async Task Registered_workers_are_listed_online_until_their_heartbeats_stop()
    {
        var registry = fixture.Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key);
        await registry.Register(Board("board-1"));
        await registry.Register(Board("board-2", "pixel7"));
        Assert.False(await registry.Heartbeat("never-registered"));

        var listed = await registry.List();
        // By device key, then worker.
        Assert.Equal(["board-2", "board-1"], listed.Select(d => d.Registration.WorkerId));
        Assert.All(listed, d => Assert.True(d.Online));
        Assert.Equal("Arm64", listed[0].Registration.Environment["architecture"]);

        // board-1 keeps beating, board-2 goes silent.
        var until = DateTime.UtcNow + ClusterFixture.DeviceOfflineAfter * 1.5;
        while (DateTime.UtcNow < until)
        {
            Assert.True(await registry.Heartbeat("board-1"));
            await Task.Delay(200);
        }
        var later = await registry.List();
        Assert.True(later.Single(d => d.Registration.WorkerId == "board-1").Online);
        Assert.False(later.Single(d => d.Registration.WorkerId == "board-2").Online);

        // Registering again updates the worker (a new engine) and keeps when it first registered.
        await registry.Register(Board("board-2", "pixel7") with { Engine = "onnxruntime 1.24" });
        var again = (await registry.List()).Single(d => d.Registration.WorkerId == "board-2");
        Assert.Equal("onnxruntime 1.24", again.Registration.Engine);
        Assert.Equal(listed[0].RegisteredUtc, again.RegisteredUtc);
        Assert.True(again.Online);
    }

    [Fact]
    public async Task A_registration_without_a_device_key_is_refused_by_name()
    {
        var registry = fixture.Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key);
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => registry.Register(Board("board-x", " ")));
        Assert.Contains("device key", error.Message);
        Assert.DoesNotContain(await registry.List(), d => d.Registration.WorkerId == "board-x");
    }
}
