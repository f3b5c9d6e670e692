using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

// Usage: Grid.NetDelay DELAY_MS LISTEN=TARGET [LISTEN=TARGET ...], each endpoint ADDRESS:PORT.
// Accepts TCP connections on every LISTEN endpoint and forwards each to its TARGET, holding every chunk read in
// either direction for DELAY_MS before writing it on: a chunk read at t is written at t + delay. Reading and writing
// are separate loops joined by a queue, so a delay adds latency without limiting throughput (unlike a sleep between
// reads). Prints "relaying" when every endpoint listens. Each line on standard input is a new DELAY_MS for chunks
// read from then on (open connections stay open); the relay ends when its standard input closes or it is killed.
if (args.Length < 2 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out int delayMs) || delayMs < 0)
{
    Console.Error.WriteLine("usage: Grid.NetDelay DELAY_MS LISTEN_ADDRESS:PORT=TARGET_ADDRESS:PORT ...");
    return 2;
}

Delay.Set(delayMs);
var listeners = new List<(TcpListener Listener, IPEndPoint Target)>();
foreach (string pair in args.Skip(1))
{
    string[] parts = pair.Split('=');
    var listener = new TcpListener(IPEndPoint.Parse(parts[0]));
    listener.Start(512);
    listeners.Add((listener, IPEndPoint.Parse(parts[1])));
}

foreach (var (listener, target) in listeners)
{
    _ = AcceptAsync(listener, target);
}

Console.WriteLine($"relaying with {delayMs} ms each way: {string.Join(", ", args.Skip(1))}");
while (await Console.In.ReadLineAsync() is { } line)
{
    if (int.TryParse(line.Trim(), CultureInfo.InvariantCulture, out int next) && next >= 0)
    {
        Delay.Set(next);
        Console.WriteLine($"delay {next} ms");
    }
    else
    {
        Console.Error.WriteLine($"not a delay in ms: '{line}'");
    }
}

return 0;

static async Task AcceptAsync(TcpListener listener, IPEndPoint target)
{
    while (true)
    {
        var inbound = await listener.AcceptSocketAsync();
        _ = RelayAsync(inbound, target);
    }
}

static async Task RelayAsync(Socket inbound, IPEndPoint target)
{
    using var outbound = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    using (inbound)
    {
        inbound.NoDelay = true;
        try
        {
            // The connection itself crosses the delay too, as a SYN would.
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(Delay.Ticks * 1000.0 / Stopwatch.Frequency)));
            await outbound.ConnectAsync(target);
        }
        catch (SocketException)
        {
            return; // nobody listens behind the relay (yet): the caller sees its connection closed
        }

        await Task.WhenAll(PumpAsync(inbound, outbound), PumpAsync(outbound, inbound));
    }
}

static async Task PumpAsync(Socket from, Socket to)
{
    var queue = Channel.CreateUnbounded<(long Due, byte[]? Data)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    var writer = Task.Run(async () =>
    {
        try
        {
            await foreach (var (due, data) in queue.Reader.ReadAllAsync())
            {
                // Timers have millisecond granularity and may fire a little early: wait until the chunk is due.
                for (long left; (left = due - Stopwatch.GetTimestamp()) > 0;)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(left * 1000.0 / Stopwatch.Frequency)));
                }

                if (data is null)
                {
                    to.Shutdown(SocketShutdown.Send); // the other side finished sending: pass the FIN on, delayed
                    return;
                }

                await to.SendAsync(data, SocketFlags.None);
            }
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
            CloseBoth(from, to);
        }
    });
    var buffer = new byte[64 * 1024];
    try
    {
        while (true)
        {
            int read = await from.ReceiveAsync(buffer, SocketFlags.None);
            long due = Stopwatch.GetTimestamp() + Delay.Ticks;
            queue.Writer.TryWrite((due, read == 0 ? null : buffer.AsSpan(0, read).ToArray()));
            if (read == 0)
            {
                break;
            }
        }
    }
    catch (Exception error) when (error is SocketException or ObjectDisposedException)
    {
        CloseBoth(from, to); // a reset: reset the other side now rather than after the delay
    }

    queue.Writer.TryComplete();
    await writer;
}

static void CloseBoth(Socket a, Socket b)
{
    foreach (var socket in new[] { a, b })
    {
        try
        {
            socket.Close(0);
        }
        catch (ObjectDisposedException)
        {
        }
    }
}

/// <summary>The current delay in <see cref="Stopwatch"/> ticks, shared by every connection.</summary>
internal static class Delay
{
    private static long _ticks;

    public static long Ticks => Volatile.Read(ref _ticks);

    public static void Set(int milliseconds) => Volatile.Write(ref _ticks, milliseconds * Stopwatch.Frequency / 1000);
}
