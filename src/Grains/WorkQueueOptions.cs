namespace SrMobile.Grains;

/// <summary>Lease rules of every work queue (bound from configuration section <c>SrMobile:WorkQueue</c>).</summary>
public sealed class WorkQueueOptions
{
    public const string Section = "SrMobile:WorkQueue";

    /// <summary>How long a lease lasts without a heartbeat.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A job whose lease expires this many times is failed instead of requeued.</summary>
    public int MaxLostLeases { get; set; } = 3;

    /// <summary>How often a queue looks for expired leases (it also looks on every call).</summary>
    public TimeSpan ExpiryCheckPeriod { get; set; } = TimeSpan.FromSeconds(5);
}
