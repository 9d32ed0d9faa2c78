using System.Text.RegularExpressions;

namespace SrMobile.Deploy.Tests;

/// <summary>
/// The Dockerfiles beside the projects, read as text (no container engine here): multi-stage, a non-root final stage,
/// no secrets, the project each publishes is the program its ENTRYPOINT runs, the coordinator leaves out every native
/// library of libtorch and TorchSharp, the trainer's build argument reaches the libtorch switch, the agent builds both
/// architectures, and the build context leaves outputs and key files out.
/// </summary>
public sealed partial class DockerfileTests
{
    private static string Root => TestData.RepositoryRoot;

    private static List<string> Projects() => Directory.GetDirectories(Path.Combine(Root, "src"))
        .Where(d => File.Exists(Path.Combine(d, "Dockerfile"))).Select(Path.GetFileName).OfType<string>().Order().ToList();

    public static TheoryData<string> Dockerfiles => new(Projects());

    [Fact]
    public void Each_role_has_its_image()
    {
        Assert.Equal(["Agents", "Silo", "Trainer"], Projects());
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void It_is_multi_stage_non_root_without_secrets_and_runs_what_it_publishes(string project)
    {
        var text = File.ReadAllText(Path.Combine(Root, "src", project, "Dockerfile"));
        var lines = text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();

        var stages = lines.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("FROM ", StringComparison.Ordinal)).Select(x => x.i).ToList();
        Assert.True(stages.Count >= 2, "multi-stage: the SDK never reaches the image");
        var final = lines.Skip(stages[^1]).ToList();
        var user = Assert.Single(final, l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.DoesNotMatch(@"^USER (root|0)(:|$)", user);
        Assert.DoesNotContain(final, l => l.StartsWith("RUN ", StringComparison.Ordinal) && l.Contains("dotnet", StringComparison.Ordinal));
        Assert.DoesNotMatch(Secret(), text);

        var published = Publish().Match(text);
        Assert.True(published.Success, "it publishes a project");
        var csproj = Path.Combine(Root, published.Groups[1].Value);
        Assert.True(File.Exists(csproj), $"{csproj} exists");
        var assembly = Regex.Match(File.ReadAllText(csproj), "<AssemblyName>([^<]+)</AssemblyName>").Groups[1].Value;
        Assert.Equal($"ENTRYPOINT [\"./{assembly}\"]", Assert.Single(final, l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal)));
        Assert.Matches(@"-t srmobile/[\w-]+:", text);
    }

    [Fact]
    public void The_coordinator_leaves_out_every_native_library_of_libtorch_and_torchsharp()
    {
        var text = File.ReadAllText(Path.Combine(Root, "src", "Silo", "Dockerfile"));
        var removed = Regex.Matches(text, @"rm -f ([^&]+)").SelectMany(m => m.Groups[1].Value.Split([' ', '\\', '\n'], StringSplitOptions.RemoveEmptyEntries)).ToList();
        var packages = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"));
        var version = Regex.Match(File.ReadAllText(Path.Combine(Root, "Directory.Packages.props")), @"Include=""libtorch-cpu-linux-x64"" Version=""([^""]+)""").Groups[1].Value;
        var torchSharp = Regex.Match(File.ReadAllText(Path.Combine(Root, "Directory.Packages.props")), @"Include=""TorchSharp"" Version=""([^""]+)""").Groups[1].Value;
        var natives = Directory.GetFiles(Path.Combine(packages, "libtorch-cpu-linux-x64", version, "runtimes", "linux-x64", "native"))
            .Concat(Directory.GetFiles(Path.Combine(packages, "torchsharp", torchSharp, "runtimes", "linux-x64", "native")))
            .Select(Path.GetFileName).OfType<string>().ToList();

        Assert.Contains("libtorch_cpu.so", natives);
        Assert.All(natives, file => Assert.Contains(removed, pattern => Glob(pattern).IsMatch(file)));
    }

    [Fact]
    public void The_trainers_build_argument_switches_libtorch()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, "src", "Trainer", "Dockerfile"));
        var training = File.ReadAllText(Path.Combine(Root, "src", "Training", "Training.csproj"));
        var versions = File.ReadAllText(Path.Combine(Root, "Directory.Packages.props"));

        Assert.Contains("ARG LIBTORCH=cpu", dockerfile);
        Assert.Contains("-p:SrMobileLibTorch=$LIBTORCH", dockerfile);
        Assert.Contains("""<PackageReference Include="libtorch-cpu-linux-x64" Condition="'$(SrMobileLibTorch)' != 'cuda'" />""", training);
        Assert.Contains("""<PackageReference Include="libtorch-cuda-12.8-linux-x64" Condition="'$(SrMobileLibTorch)' == 'cuda'" />""", training);
        Assert.Contains("""<PackageVersion Include="libtorch-cuda-12.8-linux-x64" """, versions);
    }

    [Fact]
    public void The_agent_builds_for_arm64_and_amd64_and_the_context_leaves_outputs_and_keys_out()
    {
        var agent = File.ReadAllText(Path.Combine(Root, "src", "Agents", "Dockerfile"));
        Assert.Contains("--platform linux/arm64,linux/amd64", agent);
        Assert.Contains("arm64) rid=linux-arm64", agent);
        Assert.Contains("amd64) rid=linux-x64", agent);
        Assert.Contains("--self-contained", agent);

        var ignored = File.ReadAllLines(Path.Combine(Root, ".dockerignore")).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        Assert.Superset(new HashSet<string> { "**/bin/", "**/obj/", "**/node_modules/", ".git/", "**/*.key", "**/*.pem", "**/*.pfx" }, ignored.ToHashSet());
    }

    private static Regex Glob(string pattern) => new("^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal) + "$");

    [GeneratedRegex(@"dotnet publish (src/\w+/\w+\.csproj)")]
    private static partial Regex Publish();

    [GeneratedRegex(@"(?i)(ENV|ARG)\s+\S*(password|secret|accountkey|connectionstring|token)")]
    private static partial Regex Secret();
}
