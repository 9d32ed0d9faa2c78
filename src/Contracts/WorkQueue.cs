namespace SrMobile.Contracts;

/// <summary>A job to run: its id (one per candidate stage), priority (higher first) and an opaque JSON payload.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkItem(
    [property: Id(0)] string JobId,
    [property: Id(1)] int Priority,
    [property: Id(2)] string Payload);

/// <summary>A worker's right to run one job until <see cref="ExpiresUtc"/>, renewed by heartbeats.</summary>
[GenerateSerializer, Immutable]
public sealed record JobLease(
    [property: Id(0)] string JobId,
    [property: Id(1)] Guid LeaseId,
    [property: Id(2)] string WorkerId,
    [property: Id(3)] DateTimeOffset ExpiresUtc,
    [property: Id(4)] int Attempt,
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
}

/// <summary>The answer to a renew, complete or fail: accepted, or rejected with the reason (state unchanged).</summary>
[GenerateSerializer, Immutable]
public sealed record LeaseOutcome(
    [property: Id(0)] bool Accepted,
    [property: Id(1)] string? Reason,
    [property: Id(2)] DateTimeOffset? ExpiresUtc = null)
{
    public static LeaseOutcome Rejected(string reason) => new(false, reason);
}

[GenerateSerializer, Immutable]
public sealed record JobView(
    [property: Id(0)] string JobId,
    [property: Id(1)] JobStatus Status,
    [property: Id(2)] int Attempts,
    [property: Id(3)] int LostLeases,
    [property: Id(4)] string? WorkerId,
    [property: Id(5)] JobProgress? Progress,
    [property: Id(6)] string? Result,
    [property: Id(7)] IReadOnlyList<string> Errors);

[GenerateSerializer, Immutable]
public sealed record QueueSummary(
    [property: Id(0)] int Queued,
    [property: Id(1)] int Leased,
    [property: Id(2)] int Completed,
    [property: Id(3)] int Failed);

/// <summary>
/// A pool's work queue (key: the pool, e.g. <c>trainer</c> or <c>device/pixel-8</c>). Workers pull jobs through
/// leases: lease → heartbeat renewals → complete or fail, each with the lease id. A lease that expires puts its job
/// back in the queue; a job that loses <c>MaxLostLeases</c> leases is failed. Every change is persisted before it
/// is acknowledged.
/// </summary>
public interface IWorkQueueGrain : IGrainWithStringKey
{
    /// <summary>Adds the job; false (and nothing changes) when a job with that id is already known.</summary>
    Task<bool> Enqueue(WorkItem item);

    /// <summary>The highest-priority, oldest queued job, leased to <paramref name="workerId"/>; null when none is queued.</summary>
    Task<JobLease?> Lease(string workerId);

    Task<LeaseOutcome> Renew(Guid leaseId, JobProgress progress);

    Task<LeaseOutcome> Complete(Guid leaseId, string result);

    /// <summary>Ends the lease with an error; with <paramref name="retry"/> the job goes back to the queue.</summary>
    Task<LeaseOutcome> Fail(Guid leaseId, string error, bool retry);

    Task<JobView?> Get(string jobId);

    Task<QueueSummary> Summary();

    /// <summary>The jobs under a lease now, with their last heartbeat's progress (what the workers are doing).</summary>
    Task<IReadOnlyList<JobView>> Leased();
}
