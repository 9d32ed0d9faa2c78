using Microsoft.AspNetCore.Components;
using SrMobile.Contracts;
using SrMobile.Query;

namespace SrMobile.Dashboard.Components.Shared;

/// <summary>
/// A page that shows the cluster as it is: it reads its state (<see cref="Load"/>) when it opens, and again shortly
/// after the cluster pushes a change it watches. A burst of changes is one read: a change that arrives while a read
/// waits or runs is folded into the next one.
/// </summary>
public abstract class LivePage : ComponentBase, IAsyncDisposable
{
    /// <summary>How long a change waits for others to fold in before the page reads again.</summary>
    public static readonly TimeSpan Coalesce = TimeSpan.FromMilliseconds(200);

    private readonly List<IAsyncDisposable> watches = [];
    private Timer? clock;
    private int pending;
    private bool disposed;

    [Inject] protected ClusterChanges Changes { get; set; } = null!;

    [Inject] protected SearchService Service { get; set; } = null!;

    /// <summary>Set when the last read failed (the cluster did not answer): the page says so and keeps what it had.</summary>
    protected string? LoadError { get; private set; }

    protected abstract Task Load();

    /// <summary>What this page watches, subscribed once it is interactive.</summary>
    protected abstract IEnumerable<Func<Action<ClusterChange>, Task<IAsyncDisposable>>> Watches();

    protected override async Task OnParametersSetAsync() => await SafeLoad();

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender || !RendererInfo.IsInteractive)
            return;
        foreach (var watch in Watches())
            watches.Add(await watch(Changed));
    }

    /// <summary>Watches one more thing after the start (e.g. a search that appeared in the list).</summary>
    protected async Task WatchAlso(Func<Action<ClusterChange>, Task<IAsyncDisposable>> watch) => watches.Add(await watch(Changed));

    /// <summary>Reads again every <paramref name="period"/> as well: for what changes with time alone (how long ago a heartbeat was).</summary>
    protected void Every(TimeSpan period) => clock ??= new Timer(_ => Changed(new ClusterChange(null)), null, period, period);

    protected void Changed(ClusterChange change)
    {
        if (Interlocked.Exchange(ref pending, 1) == 1)
            return;
        _ = InvokeAsync(async () =>
        {
            await Task.Delay(Coalesce);
            Volatile.Write(ref pending, 0);
            if (disposed)
                return;
            await SafeLoad();
            StateHasChanged();
        });
    }

    private async Task SafeLoad()
    {
        try
        {
            await Load();
            LoadError = null;
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException)
        {
            LoadError = $"The cluster did not answer: {e.Message}";
        }
    }

    public async ValueTask DisposeAsync()
    {
        disposed = true;
        if (clock is not null)
            await clock.DisposeAsync();
        foreach (var watch in watches)
            await watch.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
