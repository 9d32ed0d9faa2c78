namespace SrMobile.Training.Trainer;

/// <summary>
/// The seed's layout under a working folder: <c>log/{name}.log</c>, <c>experiment/{name}/checkpoints/{last,best}.ckpt</c>,
/// <c>experiment/{name}/records/train.csv</c>, and the resolved options the run was started with.
/// </summary>
public sealed record ExperimentPaths(string Root, string Name)
{
    public string LogFile => Path.Combine(Root, "log", $"{Name}.log");
    public string Folder => Path.Combine(Root, "experiment", Name);
    public string LastCheckpoint => Path.Combine(Folder, "checkpoints", "last.ckpt");
    public string BestCheckpoint => Path.Combine(Folder, "checkpoints", "best.ckpt");
    public string Record => Path.Combine(Folder, "records", "train.csv");
    public string Options => Path.Combine(Folder, "options.json");

    public bool Exists => Directory.Exists(Folder);

    public static void CheckName(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny([.. Path.GetInvalidFileNameChars(), '/', '\\']) >= 0 || name is "." or "..")
            throw new Engine.BadInputException($"--name '{name}' is not a usable folder name");
    }
}
