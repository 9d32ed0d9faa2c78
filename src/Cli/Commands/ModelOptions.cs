using System.CommandLine;
using SrMobile.Engine;
using SrMobile.Engine.Models;
using SrMobile.Training.Network;

namespace SrMobile.Cli.Commands;

/// <summary>
/// Where a model's weights come from for <c>export</c> and <c>quantize</c>: a checkpoint, or seeded random weights
/// of a given architecture (so latency can be measured before anything is trained).
/// </summary>
public sealed class ModelOptions
{
    public Option<FileInfo?> Model { get; } = new("--model") { Description = "Float checkpoint (.ckpt)" };
    public Option<bool> RandomWeights { get; } = new("--random-weights") { Description = "Seeded random weights instead of a checkpoint" };
    public Option<int> Scale { get; } = new("--scale") { Description = "With --random-weights: 2, 3 or 4", DefaultValueFactory = _ => 3 };
    public Option<int> Depth { get; } = new("--depth") { Description = "With --random-weights: m", DefaultValueFactory = _ => 4 };
    public Option<int> Width { get; } = new("--width") { Description = "With --random-weights: C", DefaultValueFactory = _ => 28 };
    public Option<int> Seed { get; } = new("--seed") { Description = "With --random-weights: the seed", DefaultValueFactory = _ => 0 };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(RandomWeights);
        command.Options.Add(Scale);
        command.Options.Add(Depth);
        command.Options.Add(Width);
        command.Options.Add(Seed);
    }

    public AbpnCheckpoint Load(ParseResult parse)
    {
        var model = parse.GetValue(Model);
        var random = parse.GetValue(RandomWeights);
        if ((model is null) == !random)
            throw new BadInputException("give exactly one of --model <checkpoint> or --random-weights");
        if (model is not null)
            return AbpnCheckpoint.Load(model.FullName);
        var architecture = new AbpnArchitecture(parse.GetValue(Scale), parse.GetValue(Depth), parse.GetValue(Width)).Validate("--random-weights");
        using var network = new AbpnNetwork(architecture, seed: parse.GetValue(Seed));
        network.RandomizeLastConvolution(parse.GetValue(Seed));
        return new AbpnCheckpoint(network.DescribeCheckpoint(0, "random"), network.ExportParameters());
    }
}
