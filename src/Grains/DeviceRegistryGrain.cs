using Microsoft.Extensions.Options;
using SrMobile.Contracts;
using SrMobile.Grains.Placement;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class DeviceRecord
{
    [Id(0)] public DeviceRegistration Registration { get; set; } = null!;
    [Id(1)] public DateTimeOffset RegisteredUtc { get; set; }
}

[GenerateSerializer]
public sealed class DeviceRegistryState
{
    [Id(0)] public Dictionary<string, DeviceRecord> Workers { get; set; } = [];
}

/// <summary>Device registry settings (configuration section <c>SrMobile:Devices</c>).</summary>
public sealed class DeviceRegistryOptions
{
    public const string Section = "SrMobile:Devices";

    /// <summary>A worker with no heartbeat for this long shows offline.</summary>
    public TimeSpan OfflineAfter { get; set; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// See <see cref="IDeviceRegistryGrain"/>. Registrations are stored; heartbeats only touch memory (storing a
/// timestamp every few seconds per board would be all the registry ever wrote), so after a restart every worker
/// shows offline until its next heartbeat, which is the truth.
/// </summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class DeviceRegistryGrain(
    [PersistentState("devices", WorkQueueGrain.StorageName)] IPersistentState<DeviceRegistryState> state,
    IOptions<DeviceRegistryOptions> options) : Grain, IDeviceRegistryGrain
{
    private readonly Dictionary<string, DateTimeOffset> lastSeen = [];

    public async Task Register(DeviceRegistration registration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(registration.DeviceKey, "device key");
        ArgumentException.ThrowIfNullOrWhiteSpace(registration.WorkerId, "worker id");
        var now = DateTimeOffset.UtcNow;
        var known = state.State.Workers.GetValueOrDefault(registration.WorkerId);
        state.State.Workers[registration.WorkerId] = new DeviceRecord { Registration = registration, RegisteredUtc = known?.RegisteredUtc ?? now };
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            DeactivateOnIdle();
            throw;
        }
        lastSeen[registration.WorkerId] = now;
    }

    public Task<bool> Heartbeat(string workerId)
    {
        if (!state.State.Workers.ContainsKey(workerId))
            return Task.FromResult(false);
        lastSeen[workerId] = DateTimeOffset.UtcNow;
        return Task.FromResult(true);
    }

    public Task<IReadOnlyList<DeviceWorkerView>> List()
    {
        var now = DateTimeOffset.UtcNow;
        IReadOnlyList<DeviceWorkerView> views = state.State.Workers
            .OrderBy(w => w.Value.Registration.DeviceKey, StringComparer.Ordinal).ThenBy(w => w.Key, StringComparer.Ordinal)
            .Select(w =>
            {
                var seen = lastSeen.GetValueOrDefault(w.Key, w.Value.RegisteredUtc);
                return new DeviceWorkerView(w.Value.Registration, w.Value.RegisteredUtc, seen, lastSeen.ContainsKey(w.Key) && now - seen < options.Value.OfflineAfter);
            })
            .ToList();
        return Task.FromResult(views);
    }
}
