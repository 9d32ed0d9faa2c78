using Microsoft.Extensions.Logging;
using Orleans.Utilities;
using SrMobile.Contracts;

namespace SrMobile.Grains;

/// <summary>A grain's subscribers (<see cref="IClusterObserver"/>), each lapsing unless renewed within <see cref="IClusterObserver.SubscriptionLifetime"/>.</summary>
internal sealed class ClusterObservers(ILogger logger)
{
    private readonly ObserverManager<IClusterObserver> observers = new(IClusterObserver.SubscriptionLifetime, logger);

    public Task Subscribe(IClusterObserver observer)
    {
        observers.Subscribe(observer, observer);
        return Task.CompletedTask;
    }

    public Task Unsubscribe(IClusterObserver observer)
    {
        observers.Unsubscribe(observer);
        return Task.CompletedTask;
    }

    /// <summary>One one-way message per subscriber: nothing here waits for them.</summary>
    public void Notify(ClusterChange change)
    {
        if (observers.Count > 0)
            observers.Notify(o => o.Changed(change));
    }
}
