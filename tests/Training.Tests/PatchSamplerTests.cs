using SrMobile.Engine;
using SrMobile.Engine.Imaging;
using SrMobile.Training.Data;

namespace SrMobile.Training.Tests;

public class PatchSamplerTests
{
    // HR whose s×s blocks are constant (nearest-neighbour of a random LR): LR(i, j) must equal every HR pixel of
    // block (i, j) under every augmentation, which holds only if crops are aligned and transforms match.
    private static TrainingPair BlockPair(int width, int height, int scale, int seed)
    {
        var random = new Random(seed);
        var low = new Image8(width, height, 3);
        random.NextBytes(low.Pixels);
        var high = new Image8(width * scale, height * scale, 3);
        for (var y = 0; y < high.Height; y++)
            for (var x = 0; x < high.Width; x++)
                for (var c = 0; c < 3; c++)
                    high[y, x, c] = low[y / scale, x / scale, c];
        return new TrainingPair("block", low, high);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Crops_are_aligned_under_all_eight_transforms(int scale)
    {
        var sampler = new PatchSampler([BlockPair(40, 30, scale, 1), BlockPair(33, 45, scale, 2)], scale, batchSize: 8, patchSize: 12, seed: 5);
        for (var iteration = 0; iteration < 20; iteration++)
        {
            var batch = sampler.Sample(iteration);
            var p = batch.PatchSize;
            var hp = p * scale;
            for (var b = 0; b < batch.Count; b++)
                for (var c = 0; c < 3; c++)
                    for (var y = 0; y < hp; y++)
                        for (var x = 0; x < hp; x++)
                            Assert.Equal(batch.Low[(((b * 3) + c) * p * p) + ((y / scale) * p) + (x / scale)], batch.High[(((b * 3) + c) * hp * hp) + (y * hp) + x]);
        }
    }

    [Fact]
    public void The_eight_transforms_are_the_distinct_dihedral_images()
    {
        var source = new byte[5 * 5 * 3];
        for (var i = 0; i < source.Length; i++)
            source[i] = (byte)i;
        var results = Enumerable.Range(0, 8).Select(t =>
        {
            var target = new float[4 * 4 * 3];
            PatchSampler.CopyPatch(source, 5, 1, 1, 4, t, target, 0);
            return string.Join(',', target);
        }).ToList();
        Assert.Equal(8, results.Distinct().Count());
        // Transform 0 is the plain crop: red of pixel (row 1, col 1) of the patch is source pixel (2, 2).
        Assert.StartsWith($"{((1 * 5) + 1) * 3},", results[0]);
    }

    [Fact]
    public void Batches_depend_only_on_seed_and_iteration()
    {
        var pair = BlockPair(40, 30, 3, 1);
        var a = new PatchSampler([pair], 3, 4, 10, seed: 9);
        var b = new PatchSampler([pair], 3, 4, 10, seed: 9);
        Assert.Equal(a.Sample(17).Low, b.Sample(17).Low);
        Assert.NotEqual(a.Sample(17).Low, a.Sample(18).Low);
    }

    [Fact]
    public void A_patch_larger_than_an_image_is_named()
    {
        var error = Assert.Throws<BadInputException>(() => new PatchSampler([BlockPair(20, 10, 2, 1)], 2, 4, 16, 0));
        Assert.Contains("block: LR image 20x10 is smaller than patch_size 16", error.Message);
    }
}
