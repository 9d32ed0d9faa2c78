namespace SrMobile.Contracts;

/// <summary>A device worker introducing itself: the device key it measures for and what the machine says about itself.</summary>
[GenerateSerializer, Immutable]
public sealed record DeviceRegistration(
    [property: Id(0)] string DeviceKey,
    [property: Id(1)] string WorkerId,
    [property: Id(2)] string Engine,
    [property: Id(3)] IReadOnlyDictionary<string, string> Environment);

[GenerateSerializer, Immutable]
public sealed record DeviceWorkerView(
    [property: Id(0)] DeviceRegistration Registration,
    [property: Id(1)] DateTimeOffset RegisteredUtc,
    [property: Id(2)] DateTimeOffset LastSeenUtc,
    [property: Id(3)] bool Online);

/// <summary>
/// Every device worker the cluster has seen (key <see cref="Key"/>, one per cluster): registered on start,
/// kept online by heartbeats; a worker silent for longer than the registry's timeout shows offline.
/// </summary>
public interface IDeviceRegistryGrain : IGrainWithStringKey
{
    public const string Key = "devices";

    /// <summary>Adds or updates the worker; a registration with an empty device key or worker id is rejected with an error naming it.</summary>
    Task Register(DeviceRegistration registration);

    /// <summary>The worker is alive; false when it is not registered (it should register again, e.g. after the registry lost it).</summary>
    Task<bool> Heartbeat(string workerId);

    Task<IReadOnlyList<DeviceWorkerView>> List();
}
