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
    [property: Id(11)] IReadOnlyDictionary<string, double> MaxMilliseconds)
{
    /// <summary>The canonical key: one grain, and so one run, per grid point however many workers there are.</summary>
    public string Key => $"{SearchName}/x{Scale}-m{Depth}-c{Width}/{Quantization.Key}/{TrainingHash}";

    public string TrainingJobId => $"{Key}/train";

    public string MeasurementJobId(string device) => $"{Key}/measure/{device}";

    public static string DevicePool(string device) => $"device/{device}";

    /// <summary>The Pareto front this candidate's measurement on <paramref name="device"/> belongs to.</summary>
    public string ParetoKey(string device) => $"{SearchName}/x{Scale}/{device}";
}

/// <summary>One device's verdict on a candidate: latency under the protocol and PSNR of its own int8 output.</summary>
[GenerateSerializer, Immutable]
public sealed record DeviceMeasurement(
    [property: Id(0)] string Device,
    [property: Id(1)] double MedianMs,
    [property: Id(2)] double P90Ms,
    [property: Id(3)] int Runs,
    [property: Id(4)] string Engine,
    [property: Id(5)] double Psnr,
    [property: Id(6)] double Ssim,
    [property: Id(7)] string ProtocolJson);

[GenerateSerializer, Immutable]
public sealed record CandidateView(
    [property: Id(0)] string Key,
    [property: Id(1)] CandidateStage Stage,
    [property: Id(2)] int Attempts,
    [property: Id(3)] IReadOnlyList<string> Errors,
    [property: Id(4)] CandidateSpec? Spec,
    [property: Id(5)] TrainedCandidate? Trained,
    [property: Id(6)] IReadOnlyList<DeviceMeasurement> Measurements,
    [property: Id(7)] int Version);

/// <summary>
/// A candidate's state machine: queued → training → quantizing → measuring → done, with failed and cancelled
/// reachable from any stage that is not final, and training → queued when a lost lease requeues it.
/// </summary>
public interface ICandidateGrain : IGrainWithStringKey
{
    /// <summary>Stores the spec and enqueues the training job; a second call with the same spec changes nothing.</summary>
    Task Initialize(CandidateSpec spec);

    /// <summary>Moves to <paramref name="stage"/>; false (state unchanged) when the state machine has no such edge.</summary>
    Task<bool> MoveTo(CandidateStage stage, string? error = null);

    /// <summary>
    /// Stores the trainer's result (quantizing → measuring) and enqueues one measurement job per target device;
    /// false when the candidate is not quantizing.
    /// </summary>
    Task<bool> RecordTrained(TrainedCandidate result);

    /// <summary>Stores one device's measurement and reports it to that device's Pareto front; done once every device has reported.</summary>
    Task<bool> RecordMeasurement(DeviceMeasurement measurement);

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
    [property: Id(5)] int Expanded);

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

    /// <summary>Cancels every candidate that has not finished.</summary>
    Task Cancel();

    /// <summary>
    /// A candidate's news: it reached <paramref name="stage"/> at its <paramref name="version"/>-th change (so a
    /// late message never overwrites a newer one). Interleaved: the search may be waiting on this very candidate
    /// (cancel, submit), and the update is one dictionary entry.
    /// </summary>
    [AlwaysInterleave]
    Task StageChanged(string candidateKey, CandidateStage stage, int version);
}
