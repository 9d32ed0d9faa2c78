using Microsoft.Extensions.Logging;
using SrMobile.Contracts;

namespace SrMobile.Query;

/// <summary>
/// The cluster's pushed changes for this process (one <see cref="IClusterObserver"/> reference, shared by every page
/// and watcher): <see cref="WatchSearch"/>, <see cref="WatchSearches"/> and <see cref="WatchDevices"/> subscribe to the
/// grain that holds that state on the first watcher and renew the subscription every <see cref="RenewEvery"/>, so
/// after a coordinator restart (the grain comes back with no subscribers) changes flow again within that time.
/// Handlers run on Orleans' thread: they should only note that something changed and return.
/// </summary>
public sealed class ClusterChanges : IClusterObserver, IAsyncDisposable
{
    public static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(30);

    private const string SearchesTopic = "searches";
    private const string DevicesTopic = "devices";
    private readonly IGrainFactory grains;
    private readonly ILogger<ClusterChanges> logger;
    private readonly Lock gate = new();
    private readonly Dictionary<string, List<Action<ClusterChange>>> handlers = [];
    private readonly IClusterObserver reference;
    private readonly Timer renewal;

    public ClusterChanges(IGrainFactory grains, ILogger<ClusterChanges> logger)
    {
        this.grains = grains;
        this.logger = logger;
        reference = grains.CreateObjectReference<IClusterObserver>(this);
        renewal = new Timer(_ => _ = RenewAll(), null, RenewEvery, RenewEvery);
    }

    /// <summary>Every change of search <paramref name="name"/>: its candidates' stages and its fronts.</summary>
    public Task<IAsyncDisposable> WatchSearch(string name, Action<ClusterChange> handler) => Watch("search:" + name, handler);

    /// <summary>A search newly listed in the cluster's index.</summary>
    public Task<IAsyncDisposable> WatchSearches(Action<ClusterChange> handler) => Watch(SearchesTopic, handler);

    /// <summary>A device worker registering, or coming back after being offline.</summary>
    public Task<IAsyncDisposable> WatchDevices(Action<ClusterChange> handler) => Watch(DevicesTopic, handler);

    public Task Changed(ClusterChange change)
    {
        var topic = change.DeviceWorker is not null ? DevicesTopic
            : change.CandidateKey is not null || change.ParetoKey is not null ? "search:" + change.Search
            : SearchesTopic;
        Action<ClusterChange>[] targets;
        lock (gate)
            targets = handlers.TryGetValue(topic, out var list) ? [.. list] : [];
        foreach (var handler in targets)
        {
            try
            {
                handler(change);
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "A handler of {Topic} failed on {Change}", topic, change);
            }
        }
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await renewal.DisposeAsync();
        string[] topics;
        lock (gate)
        {
            topics = [.. handlers.Keys];
            handlers.Clear();
        }
        await Task.WhenAll(topics.Select(Unsubscribe));
        grains.DeleteObjectReference<IClusterObserver>(reference);
    }

    private async Task<IAsyncDisposable> Watch(string topic, Action<ClusterChange> handler)
    {
        bool first;
        lock (gate)
        {
            first = !handlers.TryGetValue(topic, out var list);
            if (first)
                handlers[topic] = list = [];
            list!.Add(handler);
        }
        if (first)
            await Subscribe(topic);
        return new Watcher(this, topic, handler);
    }

    private async Task Forget(string topic, Action<ClusterChange> handler)
    {
        bool last;
        lock (gate)
        {
            last = handlers.TryGetValue(topic, out var list) && list.Remove(handler) && list.Count == 0;
            if (last)
                handlers.Remove(topic);
        }
        if (last)
            await Unsubscribe(topic);
    }

    private async Task RenewAll()
    {
        string[] topics;
        lock (gate)
            topics = [.. handlers.Keys];
        foreach (var topic in topics)
        {
            try
            {
                await Subscribe(topic);
            }
            catch (Exception e)
            {
                // The coordinator may be restarting: the next round tries again.
                logger.LogInformation("Could not renew the subscription to {Topic}: {Error}", topic, e.Message);
            }
        }
    }

    private Task Subscribe(string topic) => topic switch
    {
        SearchesTopic => grains.GetGrain<ISearchIndexGrain>(ISearchIndexGrain.Key).Subscribe(reference),
        DevicesTopic => grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).Subscribe(reference),
        _ => grains.GetGrain<ISearchGrain>(topic["search:".Length..]).Subscribe(reference),
    };

    private async Task Unsubscribe(string topic)
    {
        try
        {
            await (topic switch
            {
                SearchesTopic => grains.GetGrain<ISearchIndexGrain>(ISearchIndexGrain.Key).Unsubscribe(reference),
                DevicesTopic => grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).Unsubscribe(reference),
                _ => grains.GetGrain<ISearchGrain>(topic["search:".Length..]).Unsubscribe(reference),
            });
        }
        catch (Exception e)
        {
            // A lapsed subscription ends by itself.
            logger.LogInformation("Could not unsubscribe from {Topic}: {Error}", topic, e.Message);
        }
    }

    private sealed class Watcher(ClusterChanges owner, string topic, Action<ClusterChange> handler) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => new(owner.Forget(topic, handler));
    }
}
