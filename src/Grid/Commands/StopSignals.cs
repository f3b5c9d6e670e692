using System.Runtime.InteropServices;

namespace Grid.Cli.Commands;

/// <summary>
/// SIGINT (Ctrl+C) and SIGTERM for every command: the first cancels <see cref="Token"/>, so the command stops cleanly
/// (a run finishes or abandons its step, keeps its checkpoint and says how to resume) and exits 130 (SIGINT) or 143
/// (SIGTERM); a second one ends the process at once, with the same code and no stack trace.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration[] _registrations;
    private int _exitCode;

    public StopSignals() => _registrations =
    [
        PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
    ];

    public CancellationToken Token => _stop.Token;

    /// <summary>130 after SIGINT, 143 after SIGTERM (128 + the signal's number, as shells report it); null before either.</summary>
    public int? ExitCode => Volatile.Read(ref _exitCode) is var code and > 0 ? code : null;

    public string SignalName => ExitCode == 143 ? "SIGTERM" : "SIGINT";

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _stop.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // not the runtime's default (end the process): the command stops itself
        int code = context.Signal == PosixSignal.SIGTERM ? 143 : 130;
        if (Interlocked.CompareExchange(ref _exitCode, code, 0) != 0)
        {
            Console.Out.Flush();
            Console.Error.WriteLine("stopped at once (second signal): the run folder keeps its newest complete checkpoint; "
                + "resume with grid train --resume RUN_FOLDER");
            Console.Error.Flush();
            Exit(code); // no managed shutdown: nothing more is written, nothing is printed
        }

        _stop.Cancel();
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void Exit(int status);
}
