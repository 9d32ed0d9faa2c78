using Orleans.Storage;

namespace SrMobile.Grains.Tests;

/// <summary>
/// Grain storage that fails the writes a test chooses (a crash between the two writes of a cross-grain step, as the
/// step sees it: the first write stored, the second never made), over Orleans' memory storage.
/// </summary>
public sealed class FaultInjection(IGrainStorage inner) : IGrainStorage
{
    /// <summary>Writes (state name, grain id) for which this returns true fail; null: none do. The silos share this process.</summary>
    public static volatile Func<string, GrainId, bool>? FailWrite;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        FailWrite?.Invoke(stateName, grainId) == true
            ? throw new IOException($"injected crash before writing {stateName} of {grainId}")
            : inner.WriteStateAsync(stateName, grainId, grainState);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);
}
