using System.CommandLine;
using SrMobile.Engine.Onnx;

namespace SrMobile.Cli.Commands;

/// <summary><c>srmobile export --model ckpt --out model.onnx</c>: the float ONNX graph of the seed network.</summary>
public static class ExportCommand
{
    public static Command Create(CliConsole console)
    {
        var model = new ModelOptions();
        var output = new Option<FileInfo>("--out") { Description = "ONNX file to write", Required = true };
        var command = new Command("export", "Write the float ONNX model (opset 17, dynamic N×H×W).") { output };
        model.AddTo(command);
        command.SetAction((parse, _) => SrMobileCommand.Guard(console, () =>
        {
            var checkpoint = model.Load(parse);
            var path = parse.GetValue(output)!.FullName;
            AbpnOnnxWriter.Save(AbpnOnnxWriter.Float(checkpoint.Architecture, checkpoint.SeedWeights()), path);
            console.Out.WriteLine($"{checkpoint.Architecture} float -> {path}");
            return Task.FromResult(0);
        }));
        return command;
    }
}
