using SrMobile.Contracts;

namespace SrMobile.Workers;

/// <summary>The device session this process's device worker joined with, for everything that calls under it (leases, artifact reads).</summary>
public sealed class DeviceSessionHolder
{
    private readonly TaskCompletionSource<DeviceSession> joined = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DeviceSession? current;

    public DeviceSession? Current => Volatile.Read(ref current);

    public void Set(DeviceSession session)
    {
        Volatile.Write(ref current, session);
        joined.TrySetResult(session);
    }

    /// <summary>The first session, once there is one.</summary>
    public Task<DeviceSession> Joined(CancellationToken cancellation) => joined.Task.WaitAsync(cancellation);
}
