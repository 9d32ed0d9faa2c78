using System.Threading.Channels;

namespace SrMobile.Training.Data;

/// <summary>Makes batches start..end-1 on a background thread, a few ahead, so a training step never waits on data.</summary>
public sealed class BatchPrefetcher : IDisposable
{
    private readonly Channel<PatchBatch> channel;
    private readonly CancellationTokenSource stop = new();
    private readonly Task producer;

    public BatchPrefetcher(PatchSampler sampler, long start, long end, int depth = 4)
    {
        channel = Channel.CreateBounded<PatchBatch>(new BoundedChannelOptions(depth) { SingleReader = true, SingleWriter = true });
        producer = Task.Run(async () =>
        {
            try
            {
                for (var iteration = start; iteration < end; iteration++)
                    await channel.Writer.WriteAsync(sampler.Sample(iteration), stop.Token);
                channel.Writer.Complete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e is OperationCanceledException ? null : e);
            }
        });
    }

    /// <summary>The next batch, in iteration order.</summary>
    public PatchBatch Next(CancellationToken cancellation = default)
    {
        var read = channel.Reader.ReadAsync(cancellation);
        return read.IsCompletedSuccessfully ? read.Result : read.AsTask().GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        stop.Cancel();
        try
        {
            producer.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The producer's own failure already reached the reader through the channel.
        }
        stop.Dispose();
    }
}
