namespace SrMobile.Contracts;

[GenerateSerializer, Immutable]
public sealed record SearchEntry(
    [property: Id(0)] string Name,
    [property: Id(1)] DateTimeOffset SubmittedUtc);

/// <summary>
/// Every search of the cluster by name (key <see cref="Key"/>, one per cluster): a search adds itself when a submit is
/// accepted and again whenever it activates, so one that predates the index, or whose add was cut by a crash, is
/// listed once it is next used.
/// </summary>
public interface ISearchIndexGrain : IGrainWithStringKey
{
    public const string Key = "searches";

    /// <summary>Adds the search (idempotent: the first submit's time is kept).</summary>
    Task Add(string name);

    /// <summary>Every search, newest first.</summary>
    Task<IReadOnlyList<SearchEntry>> List();

    /// <summary>Pushes each newly listed search (a <see cref="ClusterChange"/> naming it) to <paramref name="observer"/>.</summary>
    Task Subscribe(IClusterObserver observer);

    Task Unsubscribe(IClusterObserver observer);
}
