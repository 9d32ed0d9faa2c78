using Orleans.Concurrency;

namespace SrMobile.Contracts;

[GenerateSerializer]
public enum CandidateStage
{
    Queued,
    Training,
    Quantizing,
    Measuring,
    Done,
    Failed,
    Cancelled,
}

/// <summary>One grid point of a search.</summary>
[GenerateSerializer, Immutable]
public sealed record CandidateSpec(
    [property: Id(0)] string SearchName,
    [property: Id(1)] int Scale,
    [property: Id(2)] int Depth,
    [property: Id(3)] int Width,
    [property: Id(4)] QuantizationRecipe Quantization,
    [property: Id(5)] TrainingRecipe Training,
    [property: Id(6)] string TrainingHash,
    [property: Id(7)] int Priority,
    [property: Id(8)] SearchDatasets Datasets,
    [property: Id(9)] IReadOnlyList<string> Devices,
    [property: Id(10)] MeasurementProtocol Protocol,
    [property: Id(11)] IReadOnlyDictionary<string, double> MaxMilliseconds,
    [property: Id(12)] IReadOnlyDictionary<string, string>? Activations = null)
{
    /// <summary>The canonical key: one grain, and so one run, per grid point however many workers there are.</summary>
    public string Key => $"{SearchName}/x{Scale}-m{Depth}-c{Width}/{Quantization.Key}/{TrainingHash}";

    /// <summary>The work queue of every training job.</summary>
    public const string TrainerPool = "trainer";

    public string TrainingJobId => $"{Key}/train";

    public string MeasurementJobId(string device) => $"{Key}/measure/{device}";

    public const string DevicePoolPrefix = "device/";

    public static string DevicePool(string device) => DevicePoolPrefix + device;

    /// <summary>The pool of a job id of any candidate (<c>…/train</c>, <c>…/measure/{device}</c>), from the id alone.</summary>
    public static string PoolOfJob(string jobId) =>
        jobId.LastIndexOf("/measure/", StringComparison.Ordinal) is var at and >= 0 ? DevicePool(jobId[(at + "/measure/".Length)..]) : TrainerPool;

    /// <summary>The Pareto front this candidate's measurement on <paramref name="device"/> belongs to.</summary>
    public string ParetoKey(string device) => ParetoKeys.Of(SearchName, Scale, device);
}

/// <summary>
/// One device's verdict on a candidate: latency under the protocol and PSNR of its own int8 output.
/// <see cref="ProtocolJson"/> is the whole latency record (protocol, environment, every statistic);
/// <see cref="Cov"/> its coefficient of variation (std / mean of the runs), <see cref="Repeats"/> how many times the
/// protocol was run again because the CoV was above the device's limit (the lowest-CoV run is kept),
/// <see cref="Activations"/> the activation type of the graph measured (<see cref="ActivationTypes"/>), and
/// <see cref="Canary"/> the device's canary reading when it measured (null where it had none).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DeviceMeasurement(
    [property: Id(0)] string Device,
    [property: Id(1)] double MedianMs,
    [property: Id(2)] double P90Ms,
    [property: Id(3)] int Runs,
    [property: Id(4)] string Engine,
    [property: Id(5)] double Psnr,
    [property: Id(6)] double Ssim,
    [property: Id(7)] string ProtocolJson,
    [property: Id(8)] double Cov = double.NaN,
    [property: Id(9)] int Repeats = 0,
    [property: Id(10)] string Activations = ActivationTypes.UInt8,
    [property: Id(11)] CanaryReading? Canary = null);

[GenerateSerializer, Immutable]
public sealed record CandidateView(
    [property: Id(0)] string Key,
    [property: Id(1)] CandidateStage Stage,
    [property: Id(2)] int Attempts,
    [property: Id(3)] IReadOnlyList<string> Errors,
    [property: Id(4)] CandidateSpec? Spec,
    [property: Id(5)] TrainedCandidate? Trained,
    [property: Id(6)] IReadOnlyList<DeviceMeasurement> Measurements,
    [property: Id(7)] int Version,
    [property: Id(8)] IReadOnlyList<StoredFile>? Checkpoints = null,
    [property: Id(9)] DateTimeOffset? StageSinceUtc = null)
{
    /// <summary>The device keys whose measurement this candidate still waits for (none unless it is measuring).</summary>
    public IEnumerable<string> PendingDevices =>
        Stage == CandidateStage.Measuring && Spec is not null ? Spec.Devices.Where(d => Measurements.All(m => m.Device != d)) : [];
}

/// <summary>An intermediate file a resumed job needs (a checkpoint), by its place under the work folder, as stored.</summary>
[GenerateSerializer, Immutable]
public sealed record StoredFile(
    [property: Id(0)] string RelativePath,
    [property: Id(1)] Artifact Artifact);

/// <summary>
/// The candidate's answer to a worker's report. <see cref="Accepted"/>: taken (or already taken from this very
/// lease: a retried call). Otherwise <see cref="Reason"/> says why not (a stale lease, a finished candidate) and the
/// worker stops working on the job; nothing changed.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record Verdict(
    [property: Id(0)] bool Accepted,
    [property: Id(1)] string? Reason,
    [property: Id(2)] CandidateView? View = null)
{
    public static Verdict Refused(string reason) => new(false, reason);
}

/// <summary>
/// A candidate's life, decided here and nowhere else: queued → training → quantizing → measuring → done, with failed
/// and cancelled reachable from any stage that is not final. Workers report what happened, each report carrying its
/// lease; the candidate checks the lease's epoch (and has the queue check the lease is live) and decides what follows,
/// with one retry rule (<c>SrMobile:Candidate</c>: work failures and lost leases per job). A report from anything but
/// the current lease is refused without changing state, and logged.
/// </summary>
public interface ICandidateGrain : IJobOwner
{
    /// <summary>Stores the spec and enqueues the training job; a second call with the same spec changes nothing.</summary>
    Task Initialize(CandidateSpec spec);

    /// <summary>A trainer starts (or resumes) the training job under <paramref name="lease"/>; accepted with the view it needs (spec, stored checkpoints).</summary>
    Task<Verdict> TrainingStarted(JobLease lease);

    /// <summary>The float model is trained; quantization (calibration or QAT) began.</summary>
    Task<Verdict> QuantizingStarted(JobLease lease);

    /// <summary>An intermediate file of the job went to the artifact store: a job requeued on another machine resumes from it.</summary>
    Task<Verdict> CheckpointStored(JobLease lease, StoredFile file);

    /// <summary>The trainer's result: stored once, then one measurement job per target device.</summary>
    Task<Verdict> Trained(JobLease lease, TrainedCandidate result);

    /// <summary>A device worker starts a measurement job; accepted with the view it needs (spec, trained artifacts).</summary>
    Task<Verdict> MeasurementStarted(JobLease lease);

    /// <summary>One device's measurement: stored once and reported to that device's Pareto front; done once every device has reported.</summary>
    Task<Verdict> Measured(JobLease lease, DeviceMeasurement measurement);

    /// <summary>Ends an unfinished candidate (cancelled); its running job stops at its next heartbeat.</summary>
    Task Cancel(string reason);

    /// <summary>No worker of <paramref name="device"/> took the measurement within the spec's device_timeout: the candidate fails naming the key.</summary>
    Task DeviceTimedOut(string device, TimeSpan waited);

    /// <summary>
    /// Repairs what a crash between two writes left: enqueues the missing job of the current stage, reports stored
    /// measurements to their fronts again (reports are idempotent). Returns the view.
    /// </summary>
    Task<CandidateView> Repair();

    /// <summary>Interleaved (a read): a search rebuilding its stage counts must not wait on a candidate that is telling it its news.</summary>
    [AlwaysInterleave]
    Task<CandidateView> Get();
}

[GenerateSerializer, Immutable]
public sealed record SubmitResult(
    [property: Id(0)] bool Accepted,
    [property: Id(1)] bool Created,
    [property: Id(2)] int Candidates,
    [property: Id(3)] IReadOnlyList<SpecError> Errors);

[GenerateSerializer, Immutable]
public sealed record SearchStatus(
    [property: Id(0)] string Name,
    [property: Id(1)] bool Submitted,
    [property: Id(2)] bool Cancelled,
    [property: Id(3)] IReadOnlyDictionary<CandidateStage, int> Stages,
    [property: Id(4)] int Candidates,
    [property: Id(5)] int Expanded,
    [property: Id(6)] IReadOnlyList<Stall>? Stalls = null,
    [property: Id(7)] int Confirming = 0)
{
    /// <summary>Every candidate has ended (done, failed or cancelled).</summary>
    public bool AllEnded => Submitted && Expanded == Candidates
        && Stages.Where(s => s.Key is CandidateStage.Done or CandidateStage.Failed or CandidateStage.Cancelled).Sum(s => s.Value) == Candidates;

    /// <summary>Every candidate has ended and every front's confirmation run too (<see cref="Confirming"/>: the fronts still waiting for theirs).</summary>
    public bool Finished => AllEnded && Confirming == 0;
}

/// <summary>
/// Something the search waits for that may never come, said plainly: <paramref name="Pool"/> (a work queue, e.g.
/// <c>device/pixel-8</c>), what is wrong, how many jobs wait, since when.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record Stall(
    [property: Id(0)] string Pool,
    [property: Id(1)] string Reason,
    [property: Id(2)] int Waiting,
    [property: Id(3)] DateTimeOffset SinceUtc)
{
    public override string ToString() =>
        FormattableString.Invariant($"{Pool}: {Reason}; {Waiting} job(s) waiting for {(DateTimeOffset.UtcNow - SinceUtc).TotalSeconds:F0} s");
}

/// <summary>A candidate of a search and the stage the search last heard of.</summary>
[GenerateSerializer, Immutable]
public sealed record CandidateListing(
    [property: Id(0)] string Key,
    [property: Id(1)] CandidateStage Stage);

/// <summary>One page of a search's candidates in grid order: <paramref name="Total"/> is the count that matched the filter.</summary>
[GenerateSerializer, Immutable]
public sealed record CandidatePage(
    [property: Id(0)] int Total,
    [property: Id(1)] IReadOnlyList<CandidateListing> Items);

/// <summary>A search (key: its name). Submitting validates the spec and expands the grid into candidates.</summary>
public interface ISearchGrain : IGrainWithStringKey
{
    /// <summary>
    /// Validates <paramref name="specText"/> (YAML or JSON). Invalid: every error, nothing created. The same spec
    /// again: accepted, nothing new. A different spec under an existing name: refused. Accepted specs are stored
    /// before this returns; the grid's candidates are created in the background (<see cref="SearchStatus.Expanded"/>).
    /// </summary>
    Task<SubmitResult> Submit(string specText);

    Task<SearchStatus> Status();

    /// <summary>The submitted spec; null before a successful submit.</summary>
    Task<SearchSpec?> Spec();

    /// <summary>
    /// The created candidates in grid order, those at <paramref name="stage"/> only when it is given, <paramref name="take"/>
    /// of them from the <paramref name="skip"/>-th: a page of a 100,000-candidate search, from memory.
    /// </summary>
    Task<CandidatePage> Candidates(CandidateStage? stage, int skip, int take);

    /// <summary>Cancels every candidate that has not finished.</summary>
    Task Cancel();

    /// <summary>
    /// A candidate's news: it reached <paramref name="stage"/> at its <paramref name="version"/>-th change (so a
    /// late message never overwrites a newer one). Interleaved: the search may be waiting on this very candidate
    /// (cancel, submit), and the update is one dictionary entry.
    /// </summary>
    [AlwaysInterleave]
    Task StageChanged(string candidateKey, CandidateStage stage, int version);

    /// <summary>A front of this search took a point (called by its Pareto grain): subscribers hear of it.</summary>
    [AlwaysInterleave, OneWay]
    Task FrontChanged(string paretoKey);

    /// <summary>Pushes every change of this search (a candidate's stage, a front) to <paramref name="observer"/> until it unsubscribes or its subscription lapses; subscribing again renews it.</summary>
    [AlwaysInterleave]
    Task Subscribe(IClusterObserver observer);

    [AlwaysInterleave]
    Task Unsubscribe(IClusterObserver observer);
}
