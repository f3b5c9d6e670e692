using System.CommandLine;
using Grid.Core.Settings;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>Runs the parsed command and turns the errors users can fix into one clear line and exit code 2.</summary>
internal static class CommandRunner
{
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        ConsoleWidth.Configure();
        if (ControlCharacterArgument(args) is { } refusal)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {refusal}");
            return 2;
        }

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // A command line that does not parse is refused like any other input: one red line each, exit 2.
            foreach (var error in parse.Errors)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {error.Message}");
            }

            var names = new List<string>();
            for (var result = parse.CommandResult; result.Command != root && result.Parent is System.CommandLine.Parsing.CommandResult parent; result = parent)
            {
                names.Insert(0, result.Command.Name);
            }

            string command = string.Join(' ', ["grid", .. names]);
            AnsiConsole.MarkupLineInterpolated($"Run '{command} --help' for the options and arguments it takes.");
            return 2;
        }

        using var stop = new StopSignals();
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                // SIGINT and SIGTERM are StopSignals': the first cancels the command, which stops cleanly (a stopping
                // silo hands off its grains and leaves the cluster); a second ends the process at once.
                ProcessTerminationTimeout = null,
            }, stop.Token);
        }
        catch (OperationCanceledException e) when (stop.ExitCode is { } signalled)
        {
            // A run says what it kept and how to resume it (RunStoppedException); other commands have nothing to keep.
            Console.Out.Flush();
            if (e is Runs.RunStoppedException)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]{e.Message}[/]");
            }
            else
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]stopped[/] ({stop.SignalName})");
            }

            return signalled;
        }
        catch (Exception e) when (stop.ExitCode is { } signalled && IsShutdownNoise(e))
        {
            // Objects disposed or calls cut off while the command stopped on a signal: the stop, not a failure.
            AnsiConsole.MarkupLineInterpolated($"[yellow]stopped[/] ({stop.SignalName})");
            return signalled;
        }
        catch (Training.Runs.OutOfDiskException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 1;
        }
        catch (Exception e) when (Training.Runs.DiskSpace.IsFull(e))
        {
            AnsiConsole.MarkupLineInterpolated(
                $"[red]error:[/] {FirstLine(e)}: its file system is full. Free space there (or choose a folder on a larger disk), then run the command again.");
            return 1;
        }
        catch (Exception e) when (e is InvalidSettingException or FileNotFoundException or DirectoryNotFoundException
                                     or UnauthorizedAccessException or InvalidDataException or Tasks.Datasets.DatasetFormatException
                                     or Hosting.Configuration.GridConfigurationException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 2;
        }
        catch (Benchmarks.BenchmarkFailedException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is Orleans.Runtime.SiloUnavailableException or Orleans.Runtime.OrleansMessageRejectionException)
        {
            // A silo died or was shutting down under a call: say so in one line, not with Orleans' stack.
            string why = e.Message.Split('\n')[0];
            AnsiConsole.MarkupLineInterpolated(
                $"[red]error:[/] a silo of the cluster went away during the command ({why}). Check [bold]grid status[/] and the silos' logs, then run the command again.");
            return 1;
        }
        catch (TimeoutException)
        {
            // Orleans' response timeout: its message is a page of scheduler diagnostics, not something a user acts on.
            AnsiConsole.MarkupLine("[red]error:[/] the cluster did not answer within its response timeout (30 s): a silo is "
                + "overloaded, starting, or gone. The request may still complete there; check [bold]grid status[/] and the "
                + "silos' logs, then run the command again.");
            return 1;
        }
        catch (OperationCanceledException)
        {
            AnsiConsole.MarkupLine("[yellow]cancelled[/]");
            return 130;
        }
        catch (Exception e)
        {
            // Anything else is a bug or an environment problem; the user gets one line, the details go to a file.
            string details = Path.Combine(Path.GetTempPath(), $"grid-error-{Environment.ProcessId}.txt");
            try
            {
                File.WriteAllText(details, e.ToString());
            }
            catch (IOException)
            {
                details = "(could not be written)";
            }

            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.GetType().Name}: {FirstLine(e)} (details: {details})");
            return 1;
        }
    }

    /// <summary>
    /// The refusal of the first argument holding a control character (a newline, escape, ...), null when there is none:
    /// no path, name or number needs one, and a path with one cannot be shown or typed back. Values of <c>--set</c> are
    /// JSON, checked setting by setting (string settings refuse control characters too); <c>--prompt</c> and
    /// <c>--completion</c> (grid score) are free text.
    /// </summary>
    private static string? ControlCharacterArgument(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            // --set values are JSON, checked setting by setting; grid score's prompt and completion are text, newlines and all.
            bool exempt = i > 0 && args[i - 1] is "--set" or "--prompt" or "--completion";
            if (!exempt && args[i].FirstOrDefault(char.IsControl) is var c and not '\0')
            {
                return $"argument {i + 1} ({InvalidSettingException.Format(args[i])}) holds the control character "
                    + $"U+{(int)c:X4}; paths, names and numbers never need one. Type it without.";
            }
        }

        return null;
    }

    private static string FirstLine(Exception e) => e.Message.Split('\n')[0].TrimEnd();

    private static bool IsShutdownNoise(Exception e) => e is ObjectDisposedException or TaskCanceledException
        or Orleans.Runtime.SiloUnavailableException or Orleans.Runtime.OrleansMessageRejectionException or TimeoutException
        || (e is AggregateException aggregate && aggregate.InnerExceptions.All(IsShutdownNoise))
        || (e.InnerException is { } inner && IsShutdownNoise(inner));
}
