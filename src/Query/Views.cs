using SrMobile.Contracts;

namespace SrMobile.Query;

/// <summary>A search in the list of searches: when it was submitted and its counts.</summary>
public sealed record SearchSummary(string Name, DateTimeOffset? SubmittedUtc, SearchStatus Status);

/// <summary>
/// One point of a front as a user reads it: the candidate, int8 PSNR, median ms, the MAI-style score, whether it is on
/// the front, and for a confirmed point the candidate's first measurement (<see cref="MedianMs"/> is then the confirmation's).
/// </summary>
public sealed record FrontPoint(string CandidateKey, double Psnr, double MedianMs, double MaiScore, bool OnFront, double? FirstMs = null);

/// <summary>
/// The front of one (scale, device key): the non-dominated points, every point, the hypervolume over time and now, and
/// its confirmation run (status, candidates, error).
/// </summary>
public sealed record FrontView(
    int Scale,
    string Device,
    IReadOnlyList<FrontPoint> Front,
    IReadOnlyList<FrontPoint> All,
    IReadOnlyList<HypervolumeSample> History,
    double Hypervolume,
    FrontConfirmation? Confirmation = null);

/// <summary>A candidate that failed, with its error history.</summary>
public sealed record CandidateErrors(string Key, CandidateStage Stage, IReadOnlyList<string> Errors);

/// <summary>
/// What a search page shows: the counts by stage and what it waits for (<see cref="SearchStatus.Stalls"/>), the spec,
/// every front with its hypervolume history, the failed candidates' errors (the first <see cref="SearchService.ErrorsShown"/>),
/// and the jobs under a lease now with their last progress.
/// </summary>
public sealed record SearchOverview(
    SearchStatus Status,
    SearchSpec Spec,
    DateTimeOffset? SubmittedUtc,
    IReadOnlyList<FrontView> Fronts,
    int FailedCandidates,
    IReadOnlyList<CandidateErrors> Errors,
    IReadOnlyList<JobView> Running);

/// <summary>A candidate with its jobs as the queues hold them (training, then one measurement per device key).</summary>
public sealed record CandidateDetail(CandidateView Candidate, IReadOnlyList<JobView> Jobs);

/// <summary>The queue of one device key and how many of its registered workers are online.</summary>
public sealed record DevicePool(string DeviceKey, string Pool, int Online, int Offline, QueueSummary Queue);

public sealed record DevicesView(IReadOnlyList<DeviceWorkerView> Workers, IReadOnlyList<DevicePool> Pools);

/// <summary>The answer to a submit: the spec's name when it could be read, and the search's result (every error with its field when refused).</summary>
public sealed record SubmitOutcome(string? Name, SubmitResult Result);

/// <summary>How a search is going, cheaply (a progress bar's poll): counts and the trainer jobs of this search under a lease.</summary>
public sealed record SearchProgress(SearchStatus Status, IReadOnlyList<JobView> Training);
