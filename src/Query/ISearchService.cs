namespace SrMobile.Query;

/// <summary>
/// What a client asks of the cluster, the same whether it holds a grain client (<see cref="SearchService"/>) or only
/// the coordinator's HTTP address (<see cref="SearchApiClient"/>). Unknown searches and candidates are null, not errors.
/// Candidate keys may be given whole (<c>{search}/x3-m4-c28/ptq-minmax-100/{hash}</c>) or without their search's name.
/// </summary>
public interface ISearchService
{
    Task<IReadOnlyList<SearchSummary>> Searches(CancellationToken cancellation = default);

    Task<SearchOverview?> Overview(string name, CancellationToken cancellation = default);

    /// <summary>The fronts of a search, those of <paramref name="scale"/> and <paramref name="device"/> only when given.</summary>
    Task<IReadOnlyList<FrontView>?> Fronts(string name, int? scale = null, string? device = null, CancellationToken cancellation = default);

    Task<CandidateDetail?> Candidate(string name, string key, CancellationToken cancellation = default);

    Task<DevicesView> Devices(CancellationToken cancellation = default);

    /// <summary>Validates and submits a spec (YAML or JSON); refused: every error with its field, nothing stored.</summary>
    Task<SubmitOutcome> Submit(string specText, CancellationToken cancellation = default);

    /// <summary>Cancels every unfinished candidate; false when there is no such search.</summary>
    Task<bool> Cancel(string name, CancellationToken cancellation = default);
}
