using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Options;
using SrMobile.Artifacts;
using SrMobile.Contracts;
using SrMobile.Engine.Evaluation;
using SrMobile.Engine.Onnx;

namespace SrMobile.Workers;

/// <summary>
/// Measures on this machine with the int8 engine: fetches the int8 model and the validation images from the artifact
/// store (which verifies their SHA-256), runs the stored latency protocol, and scores the engine's own output on those
/// images (the spec's folder for a candidate trained before its images travelled with it). The graph is the one of
/// the activation type the device runs best (<see cref="ActivationTypes"/>). With
/// <see cref="DeviceOptions.EngineLauncher"/> the engine runs in a child process (<see cref="EngineRun.Isolated{T}"/>).
/// </summary>
public sealed class EngineMeasurer(IArtifactStore artifacts, IOptions<DeviceOptions> options) : ICandidateMeasurer
{
    public string Engine => $"onnxruntime {SrEngine.RuntimeVersion}";

    public async Task<DeviceMeasurement> Measure(string device, CandidateSpec spec, TrainedCandidate trained, CancellationToken cancellation)
    {
        var settings = options.Value;
        var folder = settings.ArtifactFolder;
        var (path, activations) = await FetchGraph(device, spec, trained, cancellation);
        var validation = spec.Datasets.Validation ?? spec.Datasets.Train;
        if (trained.Artifacts.FirstOrDefault(a => a.Kind == ArtifactKinds.ValidationImages) is { } images)
            validation = ValidationImages.Unpack(await artifacts.Fetch(images, folder, cancellation), images.Sha256, folder);
        var request = new EngineRequest(device, path, validation, spec.Scale, Protocol(spec.Protocol),
            Activations: activations, MaxCov: settings.MaxCov, MaxRepeats: settings.MaxRepeats);
        return await Run(request, TimeSpan.FromSeconds(spec.Protocol.MaxSeconds * (1 + settings.MaxRepeats)), EngineRun.Execute, cancellation);
    }

    public async Task<IReadOnlyList<ConfirmedTime>> Confirm(string device, IReadOnlyList<CandidateView> candidates, CancellationToken cancellation)
    {
        if (candidates.Count == 0)
            return [];
        var models = new List<string>();
        foreach (var candidate in candidates)
        {
            if (candidate.Spec is null || candidate.Trained is null)
                throw new InvalidDataException($"candidate {candidate.Key} has no trained model to confirm");
            models.Add((await FetchGraph(device, candidate.Spec, candidate.Trained, cancellation)).Path);
        }
        // Every candidate of a front comes from one search, so they share its protocol; each candidate gets the
        // protocol's time (its minimum and maximum seconds are the whole run's, shared by all the models interleaved).
        var spec = candidates[0].Spec!;
        var protocol = Protocol(spec.Protocol);
        protocol = protocol with { MinSeconds = protocol.MinSeconds * models.Count, MaxSeconds = protocol.MaxSeconds * models.Count };
        var request = new EngineRequest(device, models[0], null, spec.Scale, protocol, Interleaved: models);
        var runs = await Run(request, TimeSpan.FromSeconds(protocol.MaxSeconds), EngineRun.ExecuteInterleaved, cancellation);
        return [.. candidates.Select((c, i) => new ConfirmedTime(c.Key, runs[i].MedianMs, runs[i].Cov, JsonSerializer.Serialize(runs[i])))];
    }

    /// <summary>
    /// The candidate's int8 graph this device measures, fetched (SHA-256 checked), and its activation type. A candidate
    /// trained before its graphs were exported per activation type has only the uint8 one.
    /// </summary>
    private async Task<(string Path, string Activations)> FetchGraph(string device, CandidateSpec spec, TrainedCandidate trained, CancellationToken cancellation)
    {
        var activations = ActivationsFor(device, spec);
        var graph = trained.Artifacts.FirstOrDefault(a => a.Kind == ArtifactKinds.Int8OnnxOf(activations));
        if (graph is null)
        {
            graph = trained.Artifacts.SingleOrDefault(a => a.Kind == ArtifactKinds.Int8Onnx)
                ?? throw new InvalidDataException($"candidate {spec.Key} has no int8 graph with {activations} activations (its artifacts: {string.Join(", ", trained.Artifacts.Select(a => a.Kind))})");
            activations = ActivationTypes.UInt8;
        }
        return (await artifacts.Fetch(graph, options.Value.ArtifactFolder, cancellation), activations);
    }

    private static LatencyProtocol Protocol(MeasurementProtocol p) => new()
    {
        Height = p.Height,
        Width = p.Width,
        Threads = p.Threads,
        Warmup = p.Warmup,
        MinRuns = p.MinRuns,
        MinSeconds = p.MinSeconds,
        MaxSeconds = p.MaxSeconds,
    };

    public async Task<CanaryRun?> Canary(CancellationToken cancellation)
    {
        var settings = options.Value;
        var activations = OwnActivations();
        var protocol = settings.Canary.Protocol(threads: 1);
        var model = CanaryModel.Write(Path.Combine(settings.ArtifactFolder, "canary"), activations);
        var run = await Run(new EngineRequest("canary", model, null, CanaryModel.Architecture.Scale, protocol, Activations: activations), TimeSpan.FromSeconds(protocol.MaxSeconds), EngineRun.Execute, cancellation);
        return new CanaryRun(CanaryModel.Signature(activations, protocol), run.MedianMs, run.Cov);
    }

    /// <summary>The activation type <paramref name="device"/> measures: the spec's entry, else this worker's setting, else its architecture's.</summary>
    private string ActivationsFor(string device, CandidateSpec spec) =>
        spec.Activations?.GetValueOrDefault(device) ?? OwnActivations();

    /// <summary>This worker's own type: its setting, else what its architecture runs best.</summary>
    private string OwnActivations() => options.Value.Activations switch
    {
        null or "" => ActivationTypes.ForArchitecture(RuntimeInformation.ProcessArchitecture.ToString()),
        var type when ActivationTypes.All.Contains(type) => type,
        var type => throw new InvalidOperationException($"{DeviceOptions.Section}:Activations must be {string.Join(" or ", ActivationTypes.All)}, not '{type}'"),
    };

    /// <summary>In this process, or with <see cref="DeviceOptions.EngineLauncher"/> in a child process (<see cref="EngineRun.Isolated{T}"/>).</summary>
    private async Task<T> Run<T>(EngineRequest request, TimeSpan protocolLimit, Func<EngineRequest, T> inProcess, CancellationToken cancellation)
    {
        var settings = options.Value;
        if (settings.EngineLauncher is not { Length: > 0 } launcher)
            return await Task.Run(() => inProcess(request), cancellation);
        // The protocol's own limit, and time to load the engine and score the images.
        var timeout = settings.EngineTimeout ?? protocolLimit + TimeSpan.FromMinutes(5);
        return await EngineRun.Isolated<T>(request, launcher, Path.Combine(settings.ArtifactFolder, "runs"), timeout, cancellation);
    }
}
