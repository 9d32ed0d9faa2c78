namespace SrMobile.Grains;

/// <summary>Lease rules of every work queue (bound from configuration section <c>SrMobile:WorkQueue</c>).</summary>
public sealed class WorkQueueOptions
{
    public const string Section = "SrMobile:WorkQueue";

    /// <summary>How long a lease lasts without a heartbeat.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>While a queue has unfinished jobs, a reminder brings it back this often after a restart (Orleans' minimum is 1 min unless configured lower).</summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often a queue looks for expired leases (it also looks on every call).</summary>
    public TimeSpan ExpiryCheckPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the queue remembers which lease ended a job, so the same owner's call again (its answer was lost) is
    /// accepted once more; longer than a worker retries a report (its ReportPatience, 5 min by default).
    /// </summary>
    public TimeSpan EndedLeaseMemory { get; set; } = TimeSpan.FromMinutes(15);
}
