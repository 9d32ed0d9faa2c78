using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SrMobile.Contracts;

namespace SrMobile.Silo.Workers;

/// <summary>
/// The pull loop every worker role shares: lease a job from <see cref="Pool"/>, run it, poll again when the queue
/// is empty; a failed lease call (a silo restarting) is logged and retried, never fatal.
/// </summary>
public abstract class LeasingWorker(IGrainFactory grains, ILogger log) : BackgroundService
{
    protected IGrainFactory Grains { get; } = grains;
    protected ILogger Log { get; } = log;
    protected abstract string Pool { get; }
    protected abstract string WorkerId { get; }
    protected abstract TimeSpan PollInterval { get; }

    protected abstract Task Run(IWorkQueueGrain queue, JobLease lease, CancellationToken stoppingToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var queue = Grains.GetGrain<IWorkQueueGrain>(Pool);
        while (!stoppingToken.IsCancellationRequested)
        {
            JobLease? lease;
            try
            {
                lease = await queue.Lease(WorkerId);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.LogWarning(e, "leasing from {Pool} failed; retrying", Pool);
                lease = null;
            }
            if (lease is null)
                await Task.Delay(PollInterval, stoppingToken);
            else
                await Run(queue, lease, stoppingToken);
        }
    }
}
