using System.Net.Sockets;
using Azure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace SrMobile.Grains.Storage;

/// <summary>How <see cref="RetryingGrainStorage"/> retries (configuration section <c>SrMobile:Storage:Retry</c>).</summary>
public sealed class StorageRetryOptions
{
    public const string Section = "SrMobile:Storage:Retry";

    /// <summary>Attempts in all, the first included (at least 1).</summary>
    public int Attempts { get; set; } = 4;

    /// <summary>The wait after the first failure; it doubles after each further one.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>
/// The grain storage failed for good: after the retries for a transient error, or at once for an error no retry can
/// mend. The message names the storage, the state, the grain and the underlying error, so whoever called the grain sees
/// what broke and where.
/// </summary>
[GenerateSerializer]
public sealed class GrainStorageFailedException : OrleansException
{
    public GrainStorageFailedException(string message, Exception inner) : base(message, inner)
    {
    }

    public GrainStorageFailedException(string message) : base(message)
    {
    }
}

/// <summary>
/// Wraps the grain storage registered under a name (file, Azure Table, Azure Blob alike) so that a storage hiccup
/// (a restarting storage service, a dropped connection, throttling) costs a few logged retries with exponential backoff
/// instead of a failed grain call, and an outage that outlasts them fails the call with a clear error instead of one
/// buried in an SDK's message. ETag conflicts (<see cref="InconsistentStateException"/>) are never retried: the grain's
/// view is stale and Orleans must see the conflict to deactivate it.
/// </summary>
public sealed class RetryingGrainStorage(string name, IGrainStorage inner, StorageRetryOptions options, ILogger<RetryingGrainStorage> log)
    : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public IGrainStorage Inner { get; } = inner;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Run("reading", stateName, grainId, () => Inner.ReadStateAsync(stateName, grainId, grainState));

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Run("writing", stateName, grainId, () => Inner.WriteStateAsync(stateName, grainId, grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Run("clearing", stateName, grainId, () => Inner.ClearStateAsync(stateName, grainId, grainState));

    /// <summary>The wrapped storage still initializes itself (creates its table or container) with the silo.</summary>
    public void Participate(ISiloLifecycle lifecycle)
    {
        if (Inner is ILifecycleParticipant<ISiloLifecycle> participant)
            participant.Participate(lifecycle);
    }

    private async Task Run(string operation, string stateName, GrainId grainId, Func<Task> call)
    {
        var attempts = Math.Max(1, options.Attempts);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await call();
                if (attempt > 1)
                    log.LogInformation("grain storage {Storage}: {Operation} state {State} of {Grain} succeeded at attempt {Attempt}", name, operation, stateName, grainId, attempt);
                return;
            }
            catch (InconsistentStateException)
            {
                throw;
            }
            catch (Exception e) when (IsTransient(e) && attempt < attempts)
            {
                var delay = options.BaseDelay * Math.Pow(2, attempt - 1);
                log.LogWarning("grain storage {Storage}: {Operation} state {State} of {Grain} failed (attempt {Attempt} of {Attempts}), retrying in {DelayMs} ms: {Error}",
                    name, operation, stateName, grainId, attempt, attempts, (long)delay.TotalMilliseconds, Describe(e));
                await Task.Delay(delay);
            }
            catch (Exception e) when (IsTransient(e))
            {
                throw new GrainStorageFailedException(
                    $"grain storage '{name}': {operation} state '{stateName}' of grain {grainId} failed after {attempt} attempt(s): {Describe(e)}", e);
            }
            catch (Exception e) when (e is not GrainStorageFailedException)
            {
                throw new GrainStorageFailedException(
                    $"grain storage '{name}': {operation} state '{stateName}' of grain {grainId} failed (not retried, the error is not transient): {Describe(e)}", e);
            }
        }
    }

    /// <summary>
    /// Errors a later attempt may not see: I/O and network failures, timeouts, and Azure answers that mean "not now"
    /// (status 0 = no answer at all, 408, 429, 5xx). Wrappers (the SDK's AggregateException after its own retries,
    /// Orleans' wrapping) are looked through.
    /// </summary>
    public static bool IsTransient(Exception e) => e switch
    {
        InconsistentStateException => false,
        RequestFailedException failed => failed.Status is 0 or 408 or 429 or >= 500,
        IOException or TimeoutException or HttpRequestException or SocketException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsTransient),
        _ => e.InnerException is { } cause && IsTransient(cause),
    };

    /// <summary>The error's type and first line, and its root cause's: Azure messages go on for a page of headers.</summary>
    private static string Describe(Exception e)
    {
        static string Line(Exception x) => $"{x.GetType().Name}: {x.Message.Split('\n', 2)[0].TrimEnd('\r')}";
        var root = e;
        while (root.InnerException is { } cause)
            root = cause;
        var status = e is RequestFailedException { Status: var s } ? $" (status {s})" : "";
        return ReferenceEquals(root, e) ? Line(e) + status : $"{Line(e)}{status} <- {Line(root)}";
    }
}

public static class RetryingGrainStorageExtensions
{
    /// <summary>
    /// Replaces the grain storage registered under <paramref name="name"/> with a <see cref="RetryingGrainStorage"/>
    /// around it, options from <see cref="StorageRetryOptions.Section"/> (then <paramref name="configure"/>).
    /// Call after the storage itself is added.
    /// </summary>
    public static ISiloBuilder AddGrainStorageRetries(this ISiloBuilder silo, string name, Action<StorageRetryOptions>? configure = null)
    {
        var services = silo.Services;
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, name))
            ?? throw new InvalidOperationException($"no grain storage named '{name}' is registered: add the storage before its retries");
        services.Remove(registered);
        var optionsBuilder = services.AddOptions<StorageRetryOptions>(name).Bind(silo.Configuration.GetSection(StorageRetryOptions.Section));
        if (configure is not null)
            optionsBuilder.Configure(configure);
        optionsBuilder.Validate(o => o.Attempts >= 1 && o.BaseDelay >= TimeSpan.Zero,
            $"{StorageRetryOptions.Section}: Attempts must be at least 1 and BaseDelay not negative");
        // The wrapped storage is made by its own registration, with the name as its key: Azure storages look their
        // named options up by it. Orleans' lifecycle registration resolves the name and finds the wrapper, which forwards.
        services.AddKeyedSingleton<IGrainStorage>(name, (provider, _) => new RetryingGrainStorage(
            name, Create(registered, provider, name), provider.GetRequiredService<IOptionsMonitor<StorageRetryOptions>>().Get(name),
            provider.GetRequiredService<ILogger<RetryingGrainStorage>>()));
        return silo;
    }

    private static IGrainStorage Create(ServiceDescriptor registered, IServiceProvider provider, string name) =>
        registered.KeyedImplementationFactory is { } factory ? (IGrainStorage)factory(provider, name)
        : registered.KeyedImplementationInstance is IGrainStorage instance ? instance
        : (IGrainStorage)ActivatorUtilities.CreateInstance(provider, registered.KeyedImplementationType!);
}
