using Orleans.Concurrency;

namespace SrMobile.Contracts;

/// <summary>
/// A device worker introducing itself: the device key it measures for (empty: its token's), its name
/// (<see cref="WorkerId"/>, one per cluster) and what the machine says about itself.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DeviceRegistration(
    [property: Id(0)] string DeviceKey,
    [property: Id(1)] string WorkerId,
    [property: Id(2)] string Engine,
    [property: Id(3)] IReadOnlyDictionary<string, string> Environment);

/// <summary>
/// What a device worker holds after joining with a token: every lease, heartbeat and report of a device pool carries
/// <see cref="Id"/>, and the cluster refuses it once the token is revoked or expired.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DeviceSession(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string DeviceKey,
    [property: Id(2)] string Name,
    [property: Id(3)] string TokenId);

/// <summary>
/// A join's or a session check's answer: the live session, or why there is none. <see cref="Quarantine"/>: why the
/// worker is quarantined (it gets no leases until <c>srmobile device release</c>), else null.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DeviceSessionAnswer(
    [property: Id(0)] DeviceSession? Session,
    [property: Id(1)] string? Refusal,
    [property: Id(2)] string? Quarantine = null)
{
    public bool Live => Session is not null && Refusal is null;

    public static DeviceSessionAnswer Refused(string reason) => new(null, reason);
}

/// <summary>A device pool's call without a live session (an unknown, revoked or expired token): the message says which.</summary>
[GenerateSerializer]
public sealed class DeviceSessionRefusedException(string message) : Exception(message);

/// <summary>A device worker's health: online (idle), busy (measuring), stale (heartbeats late), offline, quarantined.</summary>
[GenerateSerializer]
public enum DeviceHealth
{
    Online,
    Busy,
    Stale,
    Offline,
    Quarantined,
}

/// <summary>
/// One run of the canary: the fixed canary model under the fixed canary protocol (<see cref="Signature"/> names
/// both, the activation type and the engine), its median and coefficient of variation.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record CanaryRun(
    [property: Id(0)] string Signature,
    [property: Id(1)] double MedianMs,
    [property: Id(2)] double Cov);

/// <summary>
/// A device's canary now against its first run of the same signature: <see cref="Drift"/> = median / baseline − 1,
/// <see cref="Flagged"/> when its size is above the registry's limit (5 %): the machine is not what it was when its
/// earlier numbers were taken (thermal throttling, a governor, a background load).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record CanaryReading(
    [property: Id(0)] string Signature,
    [property: Id(1)] double BaselineMs,
    [property: Id(2)] DateTimeOffset BaselineUtc,
    [property: Id(3)] double MedianMs,
    [property: Id(4)] double Cov,
    [property: Id(5)] DateTimeOffset MeasuredUtc,
    [property: Id(6)] double Drift,
    [property: Id(7)] bool Flagged);

[GenerateSerializer, Immutable]
public sealed record DeviceWorkerView(
    [property: Id(0)] DeviceRegistration Registration,
    [property: Id(1)] DateTimeOffset RegisteredUtc,
    [property: Id(2)] DateTimeOffset LastSeenUtc,
    [property: Id(3)] bool Online,
    [property: Id(4)] string? TokenId = null,
    [property: Id(5)] DeviceHealth Health = DeviceHealth.Offline,
    [property: Id(6)] long JobsDone = 0,
    [property: Id(7)] long JobsFailed = 0,
    [property: Id(8)] int ConsecutiveFailures = 0,
    [property: Id(9)] string? Quarantine = null,
    [property: Id(10)] string? CurrentJob = null,
    [property: Id(11)] CanaryReading? Canary = null);

/// <summary>
/// Every device worker the cluster has seen (key <see cref="Key"/>, one per cluster): it joins with a token and gets a
/// session, is kept online by heartbeats; a worker silent for longer than the registry's timeout shows offline.
/// </summary>
public interface IDeviceRegistryGrain : IGrainWithStringKey
{
    public const string Key = "devices";

    /// <summary>
    /// Admits a worker presenting <paramref name="token"/> (a join token's secret) with a new session; refused, saying
    /// why, for an unknown, revoked or expired token, a device key other than the token's, or a name another live
    /// token holds. An empty device key or name is an error naming it.
    /// </summary>
    Task<DeviceSessionAnswer> Join(DeviceRegistration registration, string token);

    /// <summary>The session <paramref name="session"/> and whether it is live (its token not revoked or expired).</summary>
    Task<DeviceSessionAnswer> Check(Guid session);

    /// <summary>The worker of <paramref name="session"/> is alive; the answer is <see cref="Check"/>'s.</summary>
    Task<DeviceSessionAnswer> Heartbeat(Guid session);

    Task<IReadOnlyList<DeviceWorkerView>> List();

    /// <summary>A device pool leased <paramref name="jobId"/> under <paramref name="session"/> (its worker is busy).</summary>
    [OneWay]
    Task Leased(Guid session, string jobId);

    /// <summary>
    /// A device pool's lease under <paramref name="session"/> ended: a measurement taken, failed (counted: after the
    /// registry's limit of failures in a row the worker is quarantined) or handed back (neither).
    /// </summary>
    [OneWay]
    Task Ended(Guid session, string jobId, JobStatus outcome, string? error);

    /// <summary>
    /// Stores a canary run of <paramref name="session"/>'s worker and answers its reading against the worker's first
    /// run of the same signature (that first run is the baseline); a refused session is a
    /// <see cref="DeviceSessionRefusedException"/>.
    /// </summary>
    Task<CanaryReading> Canary(Guid session, CanaryRun run);

    /// <summary>Lifts <paramref name="name"/>'s quarantine (<c>srmobile device release NAME</c>); false when no worker has that name.</summary>
    Task<bool> Release(string name);

    /// <summary>Pushes a worker's registration and its return after being offline to <paramref name="observer"/> (see <see cref="IClusterObserver"/>).</summary>
    Task Subscribe(IClusterObserver observer);

    Task Unsubscribe(IClusterObserver observer);
}

/// <summary>
/// The cluster's artifacts for device workers that hold no storage credential (agents in client mode): read in chunks
/// under a live session (key: any; one activation per caller is enough). The reader checks the SHA-256.
/// </summary>
public interface IDeviceArtifactsGrain : IGrainWithStringKey
{
    /// <summary>The largest chunk <see cref="Read"/> returns.</summary>
    public const int MaxChunk = 1 << 20;

    /// <summary>Up to <paramref name="count"/> bytes of <paramref name="artifact"/> from <paramref name="offset"/> (fewer only at its end).</summary>
    Task<byte[]> Read(Guid session, Artifact artifact, long offset, int count);
}
