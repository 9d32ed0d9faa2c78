using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace SrMobile.Contracts.Telemetry;

/// <summary>
/// The cluster's own instruments, one <see cref="Meter"/> named <see cref="MeterName"/>, fed where the state changes
/// (the grains and the workers of this process). Every measurement carries <c>service_name</c> and
/// <c>service_instance_id</c>, so series of several processes stay apart wherever they are merged. Gauges read what the
/// grains of this silo reported last: a search's candidates by stage while the search is active here, a queue's jobs
/// while the queue is, the device workers the registry knows. Names become Prometheus' <c>srmobile_…</c> with the unit
/// as a suffix and <c>_total</c> on counters.
/// </summary>
public sealed class SrMobileMetrics
{
    public const string MeterName = "SrMobile";

    /// <summary>The identity of a process that configured none: service <c>srmobile</c>, instance host name and process id.</summary>
    public const string DefaultService = "srmobile";
    public static string DefaultInstance { get; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 43200];
    private static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
    private static readonly double[] PsnrBuckets = [20, 24, 26, 28, 29, 30, 31, 32, 33, 34, 35, 36, 38, 40];
    private static readonly double[] RateBuckets = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];

    private readonly KeyValuePair<string, object?>[] identity;
    private readonly ConcurrentDictionary<string, int[]> stages = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (int Queued, int Leased)> queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string DeviceKey, DateTimeOffset? LastSeenUtc, TimeSpan OfflineAfter)> devices = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string DeviceKey, double Drift)> canaries = new(StringComparer.Ordinal);
    private readonly Counter<long> leasesGranted;
    private readonly Counter<long> leasesExpired;
    private readonly Counter<long> leasesRequeued;
    private readonly Counter<long> leasesRefused;
    private readonly Counter<long> reportsRefused;
    private readonly Counter<long> errors;
    private readonly Histogram<double> queueWait;
    private readonly Histogram<double> trainingTime;
    private readonly Histogram<double> trainingRate;
    private readonly Histogram<double> psnr;
    private readonly Histogram<double> latency;

    public SrMobileMetrics(IMeterFactory meters, string serviceName, string instance)
    {
        identity = [new("service_name", serviceName), new("service_instance_id", instance)];
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("srmobile.candidates", ObserveStages, "{candidate}", "Candidates of the searches active on this silo, by search and stage");
        meter.CreateObservableGauge("srmobile.queue.jobs", ObserveQueues, "{job}", "Jobs queued and leased, by pool (trainer, device/{key})");
        meter.CreateObservableGauge("srmobile.device.workers", ObserveDevices, "{worker}", "Registered device workers by device key and health (online, offline)");
        meter.CreateObservableGauge("srmobile.device.canary_drift", ObserveCanaries, null, "Each device worker's latest canary against its baseline (median / baseline - 1), by worker and device key");
        leasesGranted = meter.CreateCounter<long>("srmobile.leases.granted", null, "Leases handed to workers, by pool");
        leasesExpired = meter.CreateCounter<long>("srmobile.leases.expired", null, "Leases that ran out without a heartbeat, by pool");
        leasesRequeued = meter.CreateCounter<long>("srmobile.leases.requeued", null, "Leased jobs put back in the queue, by pool and reason (expired, failed, released)");
        leasesRefused = meter.CreateCounter<long>("srmobile.leases.refused", null, "Renewals, completions, failures or hand-backs under a lease that is not live (stale), by pool");
        reportsRefused = meter.CreateCounter<long>("srmobile.reports.refused", null, "Worker reports a candidate refused (stale epoch, finished candidate, wrong job), by pool");
        errors = meter.CreateCounter<long>("srmobile.errors", null, "Errors by type (work_failed, bad_input, lease_lost, device_timeout, storage)");
        queueWait = meter.CreateHistogram("srmobile.queue.wait", "s", "How long a job waited in its queue before a lease, by pool",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        trainingTime = meter.CreateHistogram("srmobile.training.duration", "s", "Wall time of a training job that reported its result (train, quantize, export, evaluate), by scale and quantization kind",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        trainingRate = meter.CreateHistogram<double>("srmobile.training.iterations_per_second", null, "Training iterations per second between two progress reports of a job, by scale and stage (training, qat)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = RateBuckets });
        // Prometheus wants snake_case names and base units: decibels in the name (no unit a suffix would mangle), latency in seconds.
        psnr = meter.CreateHistogram<double>("srmobile.candidate.int8_psnr_decibels", null, "Validation PSNR (Y) of the int8 engine's output of each trained candidate, by scale and quantization kind",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = PsnrBuckets });
        latency = meter.CreateHistogram("srmobile.measured.latency", "s", "Median int8 latency of each measurement under the protocol, by device key",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
    }

    /// <summary>The counts of one search (indexed by <see cref="CandidateStage"/>), owned by its grain while it is active here.</summary>
    public int[] SearchStages(string search) => stages.GetOrAdd(search, _ => new int[Enum.GetValues<CandidateStage>().Length]);

    /// <summary>The search left this silo: its counts are another silo's to report.</summary>
    public void ForgetSearch(string search) => stages.TryRemove(search, out _);

    public void QueueDepth(string pool, int queued, int leased) => queues[pool] = (queued, leased);

    public void ForgetQueue(string pool) => queues.TryRemove(pool, out _);

    /// <summary>A device worker registered or beat (<paramref name="lastSeenUtc"/>), or is known but unheard since a restart (null).</summary>
    public void DeviceSeen(string workerId, string deviceKey, DateTimeOffset? lastSeenUtc, TimeSpan offlineAfter) =>
        devices[workerId] = (deviceKey, lastSeenUtc, offlineAfter);

    public void CanaryDrift(string workerId, string deviceKey, double drift) => canaries[workerId] = (deviceKey, drift);

    public void LeaseGranted(string pool, TimeSpan waited)
    {
        leasesGranted.Add(1, Tags(("pool", pool)));
        queueWait.Record(Math.Max(0, waited.TotalSeconds), Tags(("pool", pool)));
    }

    public void LeaseExpired(string pool) => leasesExpired.Add(1, Tags(("pool", pool)));

    public void LeaseRequeued(string pool, string reason) => leasesRequeued.Add(1, Tags(("pool", pool), ("reason", reason)));

    public void LeaseRefused(string pool) => leasesRefused.Add(1, Tags(("pool", pool)));

    public void ReportRefused(string pool) => reportsRefused.Add(1, Tags(("pool", pool)));

    public void Error(string type) => errors.Add(1, Tags(("type", type)));

    public void Trained(CandidateSpec spec, TimeSpan took) =>
        trainingTime.Record(took.TotalSeconds, Tags(("scale", spec.Scale), ("quantization", spec.Quantization.Kind)));

    public void TrainingRate(CandidateSpec spec, string stage, double iterationsPerSecond) =>
        trainingRate.Record(iterationsPerSecond, Tags(("scale", spec.Scale), ("stage", stage)));

    public void Int8Psnr(CandidateSpec spec, double decibels) =>
        psnr.Record(decibels, Tags(("scale", spec.Scale), ("quantization", spec.Quantization.Kind)));

    public void Measured(string device, double milliseconds) => latency.Record(milliseconds / 1000, Tags(("device", device)));

    private IEnumerable<Measurement<int>> ObserveStages()
    {
        foreach (var (search, counts) in stages)
        {
            foreach (var stage in Enum.GetValues<CandidateStage>())
                yield return new Measurement<int>(Volatile.Read(ref counts[(int)stage]), Tags(("search", search), ("stage", stage.ToString().ToLowerInvariant())));
        }
    }

    private IEnumerable<Measurement<int>> ObserveQueues()
    {
        foreach (var (pool, (queued, leased)) in queues)
        {
            yield return new Measurement<int>(queued, Tags(("pool", pool), ("status", "queued")));
            yield return new Measurement<int>(leased, Tags(("pool", pool), ("status", "leased")));
        }
    }

    private IEnumerable<Measurement<double>> ObserveCanaries() =>
        canaries.Select(c => new Measurement<double>(c.Value.Drift, Tags(("worker", c.Key), ("device", c.Value.DeviceKey))));

    private IEnumerable<Measurement<int>> ObserveDevices()
    {
        var now = DateTimeOffset.UtcNow;
        var counts = devices.Values
            .GroupBy(d => (d.DeviceKey, Online: d.LastSeenUtc is { } seen && now - seen < d.OfflineAfter))
            .ToDictionary(g => g.Key, g => g.Count());
        foreach (var key in devices.Values.Select(d => d.DeviceKey).Distinct())
        {
            // Both healths of every key, zeros included: a key whose last worker went offline shows 0 online, not nothing.
            yield return new Measurement<int>(counts.GetValueOrDefault((key, true)), Tags(("device", key), ("health", "online")));
            yield return new Measurement<int>(counts.GetValueOrDefault((key, false)), Tags(("device", key), ("health", "offline")));
        }
    }

    private TagList Tags(params (string Key, object? Value)[] tags)
    {
        var list = new TagList(identity);
        foreach (var (key, value) in tags)
            list.Add(key, value);
        return list;
    }
}
