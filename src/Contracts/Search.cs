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
    [property: Id(8)] SearchDatasets Datasets)
{
    /// <summary>The canonical key: one grain, and so one run, per grid point however many workers there are.</summary>
    public string Key => $"{SearchName}/x{Scale}-m{Depth}-c{Width}/{Quantization.Key}/{TrainingHash}";

    public string TrainingJobId => $"{Key}/train";
}

[GenerateSerializer, Immutable]
public sealed record CandidateView(
    [property: Id(0)] string Key,
    [property: Id(1)] CandidateStage Stage,
    [property: Id(2)] int Attempts,
    [property: Id(3)] IReadOnlyList<string> Errors,
    [property: Id(4)] CandidateSpec? Spec,
    [property: Id(5)] TrainedCandidate? Trained);

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

    /// <summary>Stores the trainer's result (quantizing → measuring); false when the candidate is not quantizing.</summary>
    Task<bool> RecordTrained(TrainedCandidate result);

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
    [property: Id(3)] IReadOnlyDictionary<CandidateStage, int> Stages);

/// <summary>A search (key: its name). Submitting validates the spec and expands the grid into candidates.</summary>
public interface ISearchGrain : IGrainWithStringKey
{
    /// <summary>
    /// Validates <paramref name="specText"/> (YAML or JSON). Invalid: every error, nothing created. The same spec
    /// again: accepted, nothing new. A different spec under an existing name: refused.
    /// </summary>
    Task<SubmitResult> Submit(string specText);

    Task<SearchStatus> Status();

    /// <summary>Cancels every candidate that has not finished.</summary>
    Task Cancel();
}
