using SrMobile.Engine.Imaging;
using SrMobile.Training.Network;
using static TorchSharp.torch;

namespace SrMobile.Training.Trainer;

/// <summary>Runs a float ABPN on whole 8-bit images and scores the results.</summary>
public static class SuperResolver
{
    /// <summary>
    /// SR of one image, rounded (half away from zero, as MATLAB) to 8 bits. A gray LR goes through the network as
    /// three equal channels and comes back gray (the channel mean), so gray benchmarks are compared on raw values.
    /// </summary>
    public static Image8 Upscale(AbpnNetwork network, Image8 low)
    {
        var rgb = low.ToRgb();
        var device = network.parameters().First().device;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var input = ToTensor(rgb).to(device);
        var output = network.forward(input).cpu().contiguous();
        var values = output.data<float>().ToArray();
        var scale = network.Architecture.Scale;
        var width = rgb.Width * scale;
        var height = rgb.Height * scale;
        var outPlane = width * height;
        if (low.IsGray)
        {
            var gray = new byte[outPlane];
            for (var i = 0; i < outPlane; i++)
                gray[i] = MatlabResize.ToByte(((double)values[i] + values[i + outPlane] + values[i + (2 * outPlane)]) / 3);
            return new Image8(width, height, 1, gray);
        }
        var result = new byte[outPlane * 3];
        for (var i = 0; i < outPlane; i++)
        {
            result[3 * i] = MatlabResize.ToByte(values[i]);
            result[(3 * i) + 1] = MatlabResize.ToByte(values[i + outPlane]);
            result[(3 * i) + 2] = MatlabResize.ToByte(values[i + (2 * outPlane)]);
        }
        return new Image8(width, height, 3, result);
    }

    /// <summary>An RGB image as a 1×3×H×W float tensor of 0..255 values (channel-first, as the network takes it).</summary>
    public static Tensor ToTensor(Image8 rgb)
    {
        var plane = rgb.Width * rgb.Height;
        var values = new float[3 * plane];
        for (var i = 0; i < plane; i++)
        {
            values[i] = rgb.Pixels[3 * i];
            values[i + plane] = rgb.Pixels[(3 * i) + 1];
            values[i + (2 * plane)] = rgb.Pixels[(3 * i) + 2];
        }
        return tensor(values, [1, 3, rgb.Height, rgb.Width]);
    }
}
