using Orleans.Concurrency;

namespace SrMobile.Contracts;

/// <summary>A job to run: its id (one per candidate stage), priority (higher first) and its owner, the candidate key.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkItem(
    [property: Id(0)] string JobId,
    [property: Id(1)] int Priority,
    [property: Id(2)] string Payload);

/// <summary>
/// A worker's right to run one job until <see cref="ExpiresUtc"/>, renewed by heartbeats. <see cref="Epoch"/> is the
/// fencing token: the n-th lease of a job has epoch n, so anything a worker reports under an older lease than the
/// job's newest is refused.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record JobLease(
    [property: Id(0)] string JobId,
    [property: Id(1)] Guid LeaseId,
    [property: Id(2)] string WorkerId,
    [property: Id(3)] DateTimeOffset ExpiresUtc,
    [property: Id(4)] int Epoch,
    [property: Id(5)] string Payload);

/// <summary>What a heartbeat reports: where the job is (stage, iteration, loss, validation PSNR).</summary>
[GenerateSerializer, Immutable]
public sealed record JobProgress(
    [property: Id(0)] string Stage,
    [property: Id(1)] long Iteration,
    [property: Id(2)] double Loss,
    [property: Id(3)] double? ValidationPsnr)
{
    /// <summary>Null when the report is acceptable; otherwise which value is not.</summary>
    public string? Problem() =>
        Iteration < 0 ? $"iteration {Iteration} is negative"
        : double.IsNaN(Loss) || double.IsInfinity(Loss) || Loss < 0 ? $"loss {Loss} is not a non-negative number"
        : ValidationPsnr is { } psnr && (double.IsNaN(psnr) || psnr < 0) ? $"validation PSNR {psnr} is not a non-negative number"
        : null;
}

[GenerateSerializer]
public enum JobStatus
{
    Queued,
    Leased,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>
/// The answer to a renew, complete, fail or release: accepted, or rejected with the reason (state unchanged).
/// <see cref="Cancelled"/> on a renew: the job's owner cancelled it, the worker stops and releases the lease.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record LeaseOutcome(
    [property: Id(0)] bool Accepted,
    [property: Id(1)] string? Reason,
    [property: Id(2)] DateTimeOffset? ExpiresUtc = null,
    [property: Id(3)] bool Cancelled = false)
{
    public static LeaseOutcome Rejected(string reason) => new(false, reason);
}

[GenerateSerializer, Immutable]
public sealed record JobView(
    [property: Id(0)] string JobId,
    [property: Id(1)] JobStatus Status,
    [property: Id(2)] int Epoch,
    [property: Id(3)] int LostLeases,
    [property: Id(4)] string? WorkerId,
    [property: Id(5)] JobProgress? Progress,
    [property: Id(6)] string? Result,
    [property: Id(7)] IReadOnlyList<string> Errors,
    [property: Id(8)] DateTimeOffset? QueuedSinceUtc = null);

[GenerateSerializer, Immutable]
public sealed record QueueSummary(
    [property: Id(0)] int Queued,
    [property: Id(1)] int Leased,
    [property: Id(2)] int Completed,
    [property: Id(3)] int Failed,
    [property: Id(4)] int Cancelled = 0,
    [property: Id(5)] DateTimeOffset? OldestQueuedUtc = null,
    [property: Id(6)] DateTimeOffset? LastPollUtc = null)
{
    /// <summary>The counts alone, by status (the times aside).</summary>
    public (int Queued, int Leased, int Completed, int Failed, int Cancelled) Counts => (Queued, Leased, Completed, Failed, Cancelled);
}

/// <summary>
/// A pool's work queue (key: the pool, e.g. <c>trainer</c> or <c>device/pixel-8</c>): the lease clock of its jobs,
/// never their judge. Workers pull jobs through leases (lease → heartbeat renewals → their report to the job's owner
/// → the owner completes or fails the lease). A lease that expires puts its job back in the queue and the owner is
/// told (<see cref="IJobOwner.LeaseLost"/>), so the owner's one retry rule decides when to give up; the queue never
/// ends a job on its own. Every change is persisted before it is acknowledged.
/// </summary>
public interface IWorkQueueGrain : IGrainWithStringKey
{
    /// <summary>
    /// The owner's call: adds the job, or puts back one that ended without the owner taking its outcome (a crash
    /// between the two writes); a queued or leased job is left as it is. True when the job is now queued anew.
    /// </summary>
    Task<bool> Enqueue(WorkItem item);

    /// <summary>
    /// The highest-priority, oldest queued job, leased to <paramref name="workerId"/>; null when none is queued. A device
    /// pool leases only under a live <paramref name="session"/> of its device key (else
    /// <see cref="DeviceSessionRefusedException"/>), and renews and takes reports of that lease only while it is live.
    /// </summary>
    Task<JobLease?> Lease(string workerId, Guid? session = null);

    /// <summary>The worker's heartbeat: extends a live lease; the answer says whether the owner cancelled the job.</summary>
    Task<LeaseOutcome> Renew(Guid leaseId, JobProgress progress);

    /// <summary>The owner's call: ends a live lease with its result. The same lease again: accepted, nothing changes.</summary>
    Task<LeaseOutcome> Complete(Guid leaseId, string result);

    /// <summary>The owner's call: ends a live lease with an error; with <paramref name="retry"/> the job goes back to the queue.</summary>
    Task<LeaseOutcome> Fail(Guid leaseId, string error, bool retry);

    /// <summary>
    /// The worker hands its lease back at once (it is stopping, or the owner cancelled the job): the job is queued
    /// again (cancelled, when its owner cancelled it) without waiting for the lease to expire.
    /// </summary>
    Task<LeaseOutcome> Release(Guid leaseId, string reason);

    /// <summary>The owner's call: a queued job ends cancelled; a leased one is told so at its next heartbeat. Idempotent.</summary>
    Task Cancel(string jobId);

    Task<JobView?> Get(string jobId);

    /// <summary>
    /// A worker is there and will lease once its machine is free (another role of its machine holds it: training and
    /// measuring take turns on one machine). It counts as asking for work, so the pool is not shown as stalled.
    /// </summary>
    [AlwaysInterleave]
    Task Waiting(string workerId);

    Task<QueueSummary> Summary();

    /// <summary>The jobs under a lease now, with their last heartbeat's progress (what the workers are doing).</summary>
    Task<IReadOnlyList<JobView>> Leased();
}

/// <summary>
/// Who a queue tells about its jobs and whom its workers report to: the grain the job's payload names, a candidate
/// (the payload is its key) or a Pareto front (its confirmation job; see <see cref="JobOwners"/>).
/// </summary>
public interface IJobOwner : IGrainWithStringKey
{
    /// <summary>
    /// The lease of <paramref name="epoch"/> expired and the job is queued again; <paramref name="lostLeases"/> in all.
    /// One-way: the queue never waits on its owners (who call the queue themselves).
    /// </summary>
    [OneWay]
    Task LeaseLost(string jobId, int epoch, int lostLeases, string reason);

    /// <summary>The work of the job failed; <paramref name="retryable"/> when another attempt may succeed (not bad input).</summary>
    Task<Verdict> WorkFailed(JobLease lease, string error, bool retryable);
}

public static class JobOwners
{
    /// <summary>The owner a job's payload names: a front for a confirmation job, else the candidate of that key.</summary>
    public static IJobOwner Of(IGrainFactory grains, string payload) =>
        ParetoKeys.ConfirmedFront(payload) is { } front ? grains.GetGrain<IParetoGrain>(front) : grains.GetGrain<ICandidateGrain>(payload);
}
