using Microsoft.Extensions.Logging;
using SrMobile.Contracts;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class SearchIndexState
{
    [Id(0)] public Dictionary<string, DateTimeOffset> Searches { get; set; } = [];
}

/// <summary>See <see cref="ISearchIndexGrain"/>. One small record per search; a failed write deactivates, so memory never runs ahead of storage.</summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class SearchIndexGrain(
    [PersistentState("searches", WorkQueueGrain.StorageName)] IPersistentState<SearchIndexState> state,
    ILogger<SearchIndexGrain> logger) : Grain, ISearchIndexGrain
{
    private readonly ClusterObservers observers = new(logger);

    public async Task Add(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (state.State.Searches.ContainsKey(name))
            return;
        state.State.Searches[name] = DateTimeOffset.UtcNow;
        await state.WriteOrDeactivate(this);
        observers.Notify(new ClusterChange(name));
    }

    public Task Subscribe(IClusterObserver observer) => observers.Subscribe(observer);

    public Task Unsubscribe(IClusterObserver observer) => observers.Unsubscribe(observer);

    public Task<IReadOnlyList<SearchEntry>> List() => Task.FromResult<IReadOnlyList<SearchEntry>>(
        [.. state.State.Searches.OrderByDescending(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal).Select(s => new SearchEntry(s.Key, s.Value))]);
}
