using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using SrMobile.Contracts;
using SrMobile.Engine.Evaluation;
using SrMobile.Engine.Metrics;
using SrMobile.Engine.Onnx;

namespace SrMobile.Workers;

/// <summary>
/// One measurement for the engine: a model on this machine under a latency protocol, scored on a validation folder;
/// or, with <see cref="Interleaved"/>, the latency of several models measured interleaved (a front's confirmation).
/// </summary>
public sealed record EngineRequest(
    [property: JsonPropertyName("device")] string Device,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("validation")] string? Validation,
    [property: JsonPropertyName("scale")] int Scale,
    [property: JsonPropertyName("protocol")] LatencyProtocol Protocol,
    [property: JsonPropertyName("outputs")] string? OutputFolder = null,
    [property: JsonPropertyName("activations")] string Activations = ActivationTypes.UInt8,
    [property: JsonPropertyName("max_cov")] double? MaxCov = null,
    [property: JsonPropertyName("max_repeats")] int MaxRepeats = 0,
    [property: JsonPropertyName("interleaved")] IReadOnlyList<string>? Interleaved = null);

/// <summary>A measurement that did not end with a result: the engine crashed, hung or refused the model.</summary>
public sealed class EngineFaultException(string message) : Exception(message);

/// <summary>
/// The int8 engine's work on one measurement: the latency protocol, then PSNR/SSIM of the engine's own output (its
/// SR images written to <see cref="EngineRequest.OutputFolder"/> when given). <see cref="Isolated{T}"/> runs it in a child
/// process with a timeout, so a model that crashes or hangs the engine fails that measurement, not the worker.
/// </summary>
public static class EngineRun
{
    /// <summary>The verb of the child process: <c>{launcher} engine REQUEST.json RESULT.json</c>.</summary>
    public const string Verb = "engine";

    // NaN (a canary has no PSNR) travels as a named literal.
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>
    /// Measures; a run whose coefficient of variation is above <see cref="EngineRequest.MaxCov"/> is repeated up to
    /// <see cref="EngineRequest.MaxRepeats"/> times and the lowest-CoV run kept (noise is then visible in the number's
    /// CoV and repeats, never averaged away). Without a validation folder (the canary) PSNR and SSIM are NaN.
    /// </summary>
    public static DeviceMeasurement Execute(EngineRequest request)
    {
        var protocol = request.Protocol.Validate();
        var latency = LatencyMeasurement.Measure([request.Model], protocol)[0];
        var repeats = 0;
        while (request.MaxCov is { } limit && latency.Cov > limit && repeats < request.MaxRepeats)
        {
            repeats++;
            var again = LatencyMeasurement.Measure([request.Model], protocol)[0];
            if (again.Cov < latency.Cov)
                latency = again;
        }
        var (psnr, ssim) = (double.NaN, double.NaN);
        if (request.Validation is { } validation)
        {
            using var engine = SrEngine.Load(request.Model, new EngineOptions { Threads = protocol.Threads });
            var quality = DatasetEvaluation.Run(validation, request.Scale, ProtocolKind.Y, "int8", engine.Upscale, request.OutputFolder);
            (psnr, ssim) = (quality.Mean.Psnr, quality.Mean.Ssim);
        }
        return new DeviceMeasurement(request.Device, latency.MedianMs, latency.P90Ms, latency.Runs, latency.Engine,
            psnr, ssim, JsonSerializer.Serialize(latency), latency.Cov, repeats, request.Activations);
    }

    /// <summary>The latency of every model of <see cref="EngineRequest.Interleaved"/>, interleaved run by run in one engine session each.</summary>
    public static IReadOnlyList<LatencyResult> ExecuteInterleaved(EngineRequest request) =>
        LatencyMeasurement.Measure([.. (request.Interleaved ?? throw new ArgumentException("the engine request names no interleaved models")).Select(m => new MeasuredModel(m))],
            request.Protocol.Validate());

    /// <summary>The child's side: reads the request, measures, writes the result; a failure is the exit code 1 and its message on stderr.</summary>
    public static int Child(string requestPath, string resultPath)
    {
        try
        {
            var request = JsonSerializer.Deserialize<EngineRequest>(File.ReadAllText(requestPath), Json)
                ?? throw new InvalidDataException($"{requestPath}: empty engine request");
            var result = request.Interleaved is null ? JsonSerializer.Serialize(Execute(request), Json) : JsonSerializer.Serialize(ExecuteInterleaved(request), Json);
            File.WriteAllText(resultPath, result);
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"engine: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }

    /// <summary>
    /// Runs <paramref name="request"/> in a child process started as <paramref name="launcher"/> followed by
    /// <c>engine REQUEST RESULT</c>, killed after <paramref name="timeout"/>. A crash (a signal, a non-zero exit) or a
    /// hang is an <see cref="EngineFaultException"/> naming the model and what happened, with the child's last words.
    /// </summary>
    public static async Task<T> Isolated<T>(EngineRequest request, IReadOnlyList<string> launcher, string folder, TimeSpan timeout, CancellationToken cancellation)
    {
        Directory.CreateDirectory(folder);
        var id = Guid.NewGuid().ToString("N")[..12];
        var requestPath = Path.Combine(folder, $"engine-{id}.request.json");
        var resultPath = Path.Combine(folder, $"engine-{id}.result.json");
        await File.WriteAllTextAsync(requestPath, JsonSerializer.Serialize(request, Json), cancellation);
        var start = new ProcessStartInfo(launcher[0], [.. launcher.Skip(1), Verb, requestPath, resultPath])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(start) ?? throw new EngineFaultException($"the engine process ({launcher[0]}) did not start");
        var errors = new Queue<string>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (errors)
            {
                errors.Enqueue(e.Data);
                if (errors.Count > 10)
                    errors.Dequeue();
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellation.ThrowIfCancellationRequested();
            throw new EngineFaultException($"the engine hung on {request.Model}: no result within {timeout.TotalSeconds:F0} s, killed");
        }
        finally
        {
            File.Delete(requestPath);
        }
        string said;
        lock (errors)
            said = string.Join(" | ", errors);
        if (process.ExitCode != 0 || !File.Exists(resultPath))
        {
            // A process killed by a signal exits with 128 + the signal's number.
            var how = process.ExitCode > 128 ? $"was killed by signal {process.ExitCode - 128}" : $"exited with code {process.ExitCode}";
            throw new EngineFaultException($"the engine {how} on {request.Model}{(said.Length > 0 ? $": {said}" : "")}");
        }
        try
        {
            return JsonSerializer.Deserialize<T>(await File.ReadAllTextAsync(resultPath, cancellation), Json)
                ?? throw new EngineFaultException($"the engine wrote no result for {request.Model}");
        }
        finally
        {
            File.Delete(resultPath);
        }
    }
}
