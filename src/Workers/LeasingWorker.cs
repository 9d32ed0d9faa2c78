using SrMobile.Contracts;
using SrMobile.Engine;

namespace SrMobile.Workers;

/// <summary>
/// The pull loop every worker role shares: lease a job from <see cref="Pool"/>, run it under a
/// <see cref="LeaseKeeper"/> (heartbeats from a timer for the whole job), poll again when the queue is empty.
/// Nothing of one job can stop the loop or the host: every grain call is contained (<see cref="Contained{T}"/>:
/// retried with backoff, then given up, the lease left to expire so another worker redoes the job), and a fault of
/// the loop itself is logged and the loop goes on after a pause. A job that must stop (cancelled, the worker
/// stopping) hands its lease back at once; a failure of the work is reported to the candidate, whose retry rule
/// decides. <see cref="Concurrency"/> loops run side by side, each its own worker (<c>{WorkerId}#{n}</c> when there
/// are several). With a <see cref="MachineGate"/> (trainer and device roles on one machine) a loop holds the gate
/// from lease to completion, so a latency measurement never shares the CPU with training.
/// </summary>
public abstract class LeasingWorker(IGrainFactory grains, ILogger log, MachineGate? gate = null) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    protected IGrainFactory Grains { get; } = grains;

    /// <summary>The machine's gate (trainer and device roles on one machine), held by a loop from lease to completion.</summary>
    protected MachineGate? Gate => gate;
    protected ILogger Log { get; } = log;
    protected abstract string Pool { get; }
    protected abstract string WorkerId { get; }
    protected abstract TimeSpan PollInterval { get; }
    protected abstract TimeSpan HeartbeatInterval { get; }

    /// <summary>How long a report (a result, a failure) is retried while the coordinator does not answer.</summary>
    protected abstract TimeSpan ReportPatience { get; }
    protected virtual int Concurrency => 1;

    /// <summary>
    /// Runs the job; <paramref name="keeper"/>'s token says when to stop. A thrown exception is a failure of the
    /// work: bad input (a missing folder, a damaged file, a wrong hash) is not worth another attempt, anything else
    /// (a native library error, memory, a full disk) may not recur, and a requeued job resumes from its checkpoints.
    /// </summary>
    protected abstract Task Work(JobLease lease, LeaseKeeper keeper, CancellationToken stoppingToken);

    /// <summary>The next job of <paramref name="queue"/> for <paramref name="workerId"/> (a device worker leases under its session).</summary>
    protected virtual Task<JobLease?> Lease(IWorkQueueGrain queue, string workerId) => queue.Lease(workerId);

    protected ICandidateGrain Candidate(JobLease lease) => Grains.GetGrain<ICandidateGrain>(lease.Payload);

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Concurrency < 1)
            throw new InvalidOperationException($"{GetType().Name}: Concurrency must be at least 1, not {Concurrency}");
        return Task.WhenAll(Enumerable.Range(0, Concurrency).Select(n => Loop(Concurrency == 1 ? WorkerId : $"{WorkerId}#{n}", stoppingToken)));
    }

    private async Task Loop(string workerId, CancellationToken stoppingToken)
    {
        var queue = Grains.GetGrain<IWorkQueueGrain>(Pool);
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                JobLease? lease;
                using (gate is null ? null : await EnterGate(gate, queue, workerId, stoppingToken))
                {
                    lease = await Lease(queue, workerId);
                    if (lease is not null)
                        await RunJob(queue, lease, stoppingToken);
                }
                failures = 0;
                if (lease is null)
                    await Task.Delay(PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The coordinator away, a silo restarting, or a fault of our own: never the end of the loop.
                var pause = Backoff(++failures);
                Log.LogWarning("{Worker}: leasing from {Pool} failed ({Error}); again in {Pause}", workerId, Pool, e.Message, pause);
                try
                {
                    await Task.Delay(pause, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Waits for the machine, telling the queue every poll interval that this worker is there (it would lease now but
    /// for the machine's other role), so a pool whose worker waits its turn is never shown as stalled.
    /// </summary>
    private async Task<IDisposable> EnterGate(MachineGate machine, IWorkQueueGrain queue, string workerId, CancellationToken stoppingToken)
    {
        var entering = machine.Enter(stoppingToken);
        while (await Task.WhenAny(entering, Task.Delay(PollInterval, stoppingToken)) != entering)
        {
            try
            {
                await queue.Waiting(workerId);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.LogDebug("{Worker}: telling {Pool} it waits failed ({Error})", workerId, Pool, e.Message);
            }
        }
        return await entering;
    }

    private async Task RunJob(IWorkQueueGrain queue, JobLease lease, CancellationToken stoppingToken)
    {
        var keeper = LeaseKeeper.Start(queue, lease, HeartbeatInterval, Log, stoppingToken);
        await using (keeper)
        {
            try
            {
                await Work(lease, keeper, stoppingToken);
            }
            catch (OperationCanceledException) when (keeper.Token.IsCancellationRequested)
            {
                if (keeper.Reason == StopReason.LeaseLost)
                {
                    Log.LogWarning("stopped {Job}: {Reason}; whoever leases it next resumes from its checkpoints", lease.JobId, keeper.Detail);
                    return;
                }
                Log.LogInformation("stopped {Job}: {Reason}; handing its lease back", lease.JobId, keeper.Detail);
                await Contained($"handing back {lease.JobId}", () => queue.Release(lease.LeaseId, keeper.Detail!), TimeSpan.FromSeconds(10), CancellationToken.None);
            }
            catch (Exception e)
            {
                var retryable = e is not (BadInputException or InvalidDataException or ArgumentException);
                Log.LogError(e, "{Job} failed (epoch {Epoch}{Kind})", lease.JobId, lease.Epoch, retryable ? "" : ", bad input");
                await Contained($"reporting the failure of {lease.JobId}", () => JobOwners.Of(Grains, lease.Payload).WorkFailed(lease, e.Message, retryable), ReportPatience, CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// A grain call that may meet the coordinator away: retried with backoff for up to <paramref name="patience"/>,
    /// then given up (logged; null). A refused report is an answer, not a failure: it is returned.
    /// </summary>
    protected async Task<T?> Contained<T>(string what, Func<Task<T>> call, TimeSpan patience, CancellationToken cancellation)
        where T : class
    {
        var deadline = DateTime.UtcNow + patience;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
            {
                if (DateTime.UtcNow >= deadline)
                {
                    Log.LogError("{What}: gave up after {Attempts} attempts ({Error}); the lease will expire and the job be redone", what, attempt, e.Message);
                    return null;
                }
                if (attempt == 1)
                    Log.LogWarning("{What} failed ({Error}); retrying for up to {Patience}", what, e.Message, patience);
                await Task.Delay(Backoff(attempt), cancellation);
            }
        }
    }

    /// <summary>A verdict that refuses means the job is no longer this worker's: the reason is logged.</summary>
    protected bool Taken(Verdict? verdict, JobLease lease, string what)
    {
        if (verdict is { Accepted: true })
            return true;
        if (verdict is not null)
            Log.LogWarning("{What} of {Job} was refused: {Reason}", what, lease.JobId, verdict.Reason);
        return false;
    }

    private static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, 100 * Math.Pow(2, Math.Min(attempt, 10))));
}
