using SrMobile.Contracts;

namespace SrMobile.Workers;

/// <summary>
/// Keeps one job's lease alive from a timer for as long as the work lives, whatever the work is doing (loading data,
/// training, calibrating, exporting, evaluating, measuring): every beat renews the lease with the latest progress.
/// <see cref="Token"/> is cancelled when the work must stop: the lease is gone (a renew refused), the owner cancelled
/// the job (the renew's answer says so), or the worker is stopping. A renew that fails (the coordinator away) is
/// logged and tried again at the next beat: a short outage costs nothing while the lease has not expired.
/// </summary>
public sealed class LeaseKeeper : IAsyncDisposable
{
    private readonly IWorkQueueGrain queue;
    private readonly JobLease lease;
    private readonly ILogger log;
    private readonly CancellationTokenSource work;
    private readonly CancellationTokenSource beats = new();
    private readonly CancellationTokenRegistration stopping;
    private readonly Task loop;
    private JobProgress progress = new("starting", 0, 0, null);

    private LeaseKeeper(IWorkQueueGrain queue, JobLease lease, TimeSpan interval, ILogger log, CancellationToken stoppingToken)
    {
        this.queue = queue;
        this.lease = lease;
        this.log = log;
        work = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        stopping = stoppingToken.Register(() => Stop(StopReason.WorkerStopping, "the worker is stopping"));
        // A beat at least three times per lease period, so one lost beat never loses the lease.
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(50).Ticks,
            Math.Min(interval.Ticks, (lease.ExpiresUtc - DateTimeOffset.UtcNow).Ticks / 3)));
        loop = Beat(period);
    }

    public static LeaseKeeper Start(IWorkQueueGrain queue, JobLease lease, TimeSpan interval, ILogger log, CancellationToken stoppingToken) =>
        new(queue, lease, interval, log, stoppingToken);

    /// <summary>Cancelled when the work must stop; <see cref="Reason"/> says why.</summary>
    public CancellationToken Token => work.Token;

    public StopReason Reason { get; private set; }

    public string? Detail { get; private set; }

    /// <summary>What the next beat reports.</summary>
    public void Report(JobProgress latest) => Volatile.Write(ref progress, latest);

    private void Stop(StopReason reason, string detail)
    {
        if (Reason != StopReason.None)
            return;
        Reason = reason;
        Detail = detail;
        work.Cancel();
    }

    private async Task Beat(TimeSpan period)
    {
        using var timer = new PeriodicTimer(period);
        var unreachable = false;
        try
        {
            while (await timer.WaitForNextTickAsync(beats.Token))
            {
                LeaseOutcome outcome;
                try
                {
                    outcome = await queue.Renew(lease.LeaseId, Volatile.Read(ref progress));
                }
                catch (Exception e) when (!beats.IsCancellationRequested)
                {
                    if (!unreachable)
                        log.LogWarning("heartbeat of {Job} failed ({Error}); the work goes on, retrying every {Period}", lease.JobId, e.Message, period);
                    unreachable = true;
                    continue;
                }
                if (unreachable)
                    log.LogInformation("heartbeat of {Job} answered again", lease.JobId);
                unreachable = false;
                if (!outcome.Accepted)
                    Stop(StopReason.LeaseLost, outcome.Reason ?? "the lease is gone");
                else if (outcome.Cancelled)
                    Stop(StopReason.Cancelled, "its candidate was cancelled");
            }
        }
        catch (OperationCanceledException) when (beats.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.DisposeAsync();
        beats.Cancel();
        await loop;
        beats.Dispose();
        work.Dispose();
    }
}

public enum StopReason
{
    None,
    LeaseLost,
    Cancelled,
    WorkerStopping,
}
