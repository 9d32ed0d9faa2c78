namespace SrMobile.Workers;

/// <summary>
/// One job at a time on this machine, whichever worker runs it: registered when a silo is both trainer and device
/// (the embedded one-machine cluster), where a latency measured while a model trains would measure the training.
/// Waiters enter in arrival order, so a measurement waits for the current training job only, not for all of them.
/// </summary>
public sealed class MachineGate
{
    private readonly SemaphoreSlim slot = new(1, 1);

    public async Task<IDisposable> Enter(CancellationToken cancellation)
    {
        await slot.WaitAsync(cancellation);
        return new Exit(slot);
    }

    private sealed class Exit(SemaphoreSlim slot) : IDisposable
    {
        private int done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref done, 1) == 0)
                slot.Release();
        }
    }
}
