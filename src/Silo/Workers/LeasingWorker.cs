using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SrMobile.Contracts;
using SrMobile.Engine;

namespace SrMobile.Silo.Workers;

/// <summary>
/// The pull loop every worker role shares: lease a job from <see cref="Pool"/>, run it, poll again when the queue
/// is empty; a failed lease call (a silo restarting) is logged and retried, never fatal. <see cref="Concurrency"/>
/// loops run side by side, each its own worker (<c>{WorkerId}#{n}</c> when there are several). With a
/// <see cref="MachineGate"/> (trainer and device roles on one machine) a loop holds the gate from lease to
/// completion, so a latency measurement never shares the CPU with training.
/// </summary>
public abstract class LeasingWorker(IGrainFactory grains, ILogger log, MachineGate? gate = null) : BackgroundService
{
    protected IGrainFactory Grains { get; } = grains;
    protected ILogger Log { get; } = log;
    protected abstract string Pool { get; }
    protected abstract string WorkerId { get; }
    protected abstract TimeSpan PollInterval { get; }
    protected virtual int Concurrency => 1;

    /// <summary>How many attempts in all a job whose work failed gets before it fails for good.</summary>
    protected abstract int MaxAttempts { get; }

    /// <summary>
    /// Whether a failed job is worth another attempt: it has attempts left and the failure is not bad input (a
    /// missing folder, a damaged file, a wrong hash), which would fail the same way again. Anything else (a native
    /// library error, memory, a full disk) may not recur, and a requeued job resumes from its checkpoints.
    /// </summary>
    protected bool WorthRetrying(Exception error, JobLease lease) =>
        lease.Attempt < MaxAttempts && error is not (BadInputException or InvalidDataException or ArgumentException);

    protected abstract Task Run(IWorkQueueGrain queue, JobLease lease, CancellationToken stoppingToken);

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Concurrency < 1)
            throw new InvalidOperationException($"{GetType().Name}: Concurrency must be at least 1, not {Concurrency}");
        return Task.WhenAll(Enumerable.Range(0, Concurrency).Select(n => Loop(Concurrency == 1 ? WorkerId : $"{WorkerId}#{n}", stoppingToken)));
    }

    private async Task Loop(string workerId, CancellationToken stoppingToken)
    {
        var queue = Grains.GetGrain<IWorkQueueGrain>(Pool);
        while (!stoppingToken.IsCancellationRequested)
        {
            JobLease? lease;
            using (gate is null ? null : await gate.Enter(stoppingToken))
            {
                try
                {
                    lease = await queue.Lease(workerId);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.LogWarning(e, "leasing from {Pool} failed; retrying", Pool);
                    lease = null;
                }
                if (lease is not null)
                    await Run(queue, lease, stoppingToken);
            }
            if (lease is null)
                await Task.Delay(PollInterval, stoppingToken);
        }
    }
}
