using System.Diagnostics;
using Grid.TestSupport;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>
/// <c>grid train --preset smoke</c> in a real terminal (a tmux pane of a given width), read back as a person sees it with
/// <c>tmux capture-pane</c>: the live progress region must never leave pieces of a bar in the tables printed while it
/// runs, nor be drawn again below the final table. Redirected output has no live region; only a terminal shows this.
/// </summary>
public sealed class LiveDisplayTests : IAsyncDisposable
{
    private readonly GridProcesses _processes = new("grid-live-");

    private string Work => _processes.WorkFolder;

    [Theory]
    [InlineData(80)]
    [InlineData(140)]
    public async Task Tables_hold_no_progress_bar_and_no_bar_is_drawn_below_the_final_table(int columns)
    {
        var cancellation = TestContext.Current.CancellationToken;
        string session = $"grid-live-{columns}-{Environment.ProcessId}";
        string exitFile = Path.Combine(Work, $"exit-{columns}");
        string command = $"cd '{Work}' && OMP_WAIT_POLICY=PASSIVE dotnet '{GridProcess.GridDll}' train --preset smoke "
            + $"--metrics-port 0 --output runs-{columns}; echo $? > '{exitFile}'; sleep 600";
        Tmux("new-session", "-d", "-s", session, "-x", $"{columns}", "-y", "100", command);
        string screen;
        try
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(exitFile) && clock.Elapsed < TimeSpan.FromMinutes(4))
            {
                await Task.Delay(500, cancellation);
            }

            screen = Tmux("capture-pane", "-p", "-t", session, "-S", "-300");
        }
        finally
        {
            Tmux("kill-session", "-t", session);
        }

        Assert.True(File.Exists(exitFile) && File.ReadAllText(exitFile).Trim() == "0", screen);
        string[] lines = screen.Split('\n');
        string[] tableLines = [.. lines.Where(line => line.TrimStart().Length > 0 && "┌│├└".Contains(line.TrimStart()[0]))];
        Assert.True(tableLines.Length >= 12, $"expected the start and final evaluation tables:\n{screen}");
        Assert.All(tableLines, line => Assert.True(!line.Contains('━') && !line.Contains("00:00:", StringComparison.Ordinal),
            $"a table line holds part of a progress bar:\n{line}\n\n{screen}"));
        int lastTableLine = Array.FindLastIndex(lines, line => line.TrimStart().StartsWith('└'));
        Assert.All(lines.Skip(lastTableLine + 1), line => Assert.True(!line.Contains('━'),
            $"a progress bar was drawn below the final table:\n{screen}"));
        Assert.Contains(lines, line => line.StartsWith("grpo  step    3/3", StringComparison.Ordinal));
    }

    /// <summary>Runs tmux (infra/test.sh installs it) and returns what it printed.</summary>
    private static string Tmux(params string[] arguments)
    {
        var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var tmux = Process.Start(start) ?? throw new InvalidOperationException("tmux did not start; install it (apt-get install tmux).");
        string output = tmux.StandardOutput.ReadToEnd();
        string errors = tmux.StandardError.ReadToEnd();
        tmux.WaitForExit();
        Assert.True(tmux.ExitCode == 0, $"tmux {string.Join(' ', arguments)} failed: {errors}");
        return output;
    }

    public async ValueTask DisposeAsync() => await _processes.DisposeAsync();
}
