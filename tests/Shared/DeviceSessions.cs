using SrMobile.Contracts;

namespace SrMobile.Tests;

/// <summary>A device worker's way in, for tests that lease from a device pool themselves: a token, then a join.</summary>
public static class DeviceSessions
{
    public static async Task<DeviceSession> Join(IGrainFactory grains, string deviceKey, string name, string engine = "test")
    {
        var issued = await grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key).Create(deviceKey, null);
        var answer = await grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key)
            .Join(new DeviceRegistration(deviceKey, name, engine, new Dictionary<string, string> { ["architecture"] = "Arm64" }), issued.Secret);
        Assert.True(answer.Live, answer.Refusal);
        return answer.Session!;
    }
}
