using Orleans.Concurrency;

namespace SrMobile.Contracts;

/// <summary>
/// What changed in the cluster, pushed to subscribers (<see cref="IClusterObserver"/>): a candidate's stage
/// (<see cref="CandidateKey"/>, <see cref="Stage"/>), a front (<see cref="ParetoKey"/>), or a device worker
/// (<see cref="DeviceWorker"/>; <see cref="Search"/> is null then). It says what to read again, not the new state:
/// a subscriber reads that from the grains, so a lost or late notice never leaves it showing something wrong.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ClusterChange(
    [property: Id(0)] string? Search,
    [property: Id(1)] string? CandidateKey = null,
    [property: Id(2)] CandidateStage? Stage = null,
    [property: Id(3)] string? ParetoKey = null,
    [property: Id(4)] string? DeviceWorker = null);

/// <summary>
/// A subscriber to a search grain or the device registry (<c>Subscribe</c>). Notices are one-way: a slow or gone
/// subscriber never holds up the grain. A subscription lapses after <see cref="SubscriptionLifetime"/> unless renewed,
/// so a subscriber that died without unsubscribing costs nothing for long.
/// </summary>
public interface IClusterObserver : IGrainObserver
{
    public static readonly TimeSpan SubscriptionLifetime = TimeSpan.FromMinutes(2);

    [OneWay]
    Task Changed(ClusterChange change);
}
