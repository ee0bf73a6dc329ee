# Collections `leaks` must recognise, and timers never disposed (run by
# ../shared/lab/bin/make-py-dump; fixture fixtures/leaks/collections-net10.dmp.zst).
#
# A class of the script's own, LeakLab.Holders, is emitted (Reflection.Emit: no SDK needed)
# with one public static field per collection; each collection gets a distinct number of
# entries, so that every count `leaks` prints can be traced to one line here:
#   Holders.Queue            Queue<String>                    2,000 (2,100 enqueued, 100 dequeued)
#   Holders.Stack            Stack<Int32>                     2,100
#   Holders.Set              HashSet<String>                  2,200 (2,300 added, 100 removed)
#   Holders.ConcurrentQueue  ConcurrentQueue<Int32>           2,300 (2,400 enqueued, 100 dequeued)
#   Holders.Bag              ConcurrentBag<String>            2,400
#   Holders.Sorted           SortedDictionary<Int32, String>  2,500
#   Holders.Linked           LinkedList<String>               2,600
#   Holders.Timers           List<Timer>                      1,000 timers, never disposed
# The timers are due in an hour (a timer with an infinite due time is not queued), all with
# the same callback, GC.KeepAlive(Object): a framework method, not a Python dispatcher.
import clr  # noqa: F401
from System import AppDomain, Array, Delegate, GC, Int32, Object, String, Type
from System.Collections.Concurrent import ConcurrentBag, ConcurrentQueue
from System.Collections.Generic import (HashSet, LinkedList, List, Queue, SortedDictionary,
                                        Stack)
from System.Reflection import AssemblyName, FieldAttributes, TypeAttributes
from System.Reflection.Emit import AssemblyBuilder, AssemblyBuilderAccess
from System.Threading import Timer, TimerCallback

asm = AssemblyBuilder.DefineDynamicAssembly(AssemblyName("LeakLab"), AssemblyBuilderAccess.Run)
module = asm.DefineDynamicModule("LeakLab")
tb = module.DefineType("LeakLab.Holders", TypeAttributes.Public | TypeAttributes.Class)

collections = {
    "Queue": Queue[String](),
    "Stack": Stack[Int32](),
    "Set": HashSet[String](),
    "ConcurrentQueue": ConcurrentQueue[Int32](),
    "Bag": ConcurrentBag[String](),
    "Sorted": SortedDictionary[Int32, String](),
    "Linked": LinkedList[String](),
    "Timers": List[Timer](),
}
for name, value in collections.items():
    tb.DefineField(name, value.GetType(), FieldAttributes.Public | FieldAttributes.Static)
holders = tb.CreateType()

q = collections["Queue"]
for i in range(2100):
    q.Enqueue(String("queued-%05d" % i))
for i in range(100):
    q.Dequeue()

s = collections["Stack"]
for i in range(2100):
    s.Push(i)

hs = collections["Set"]
for i in range(2300):
    hs.Add(String("member-%05d" % i))
for i in range(100):
    hs.Remove("member-%05d" % i)

cq = collections["ConcurrentQueue"]
for i in range(2400):
    cq.Enqueue(i)
for i in range(100):
    cq.TryDequeue()

bag = collections["Bag"]
for i in range(2400):
    bag.Add(String("bagged-%05d" % i))

sd = collections["Sorted"]
for i in range(2500):
    sd[i] = String("sorted-%05d" % i)

ll = collections["Linked"]
for i in range(2600):
    ll.AddLast(String("linked-%05d" % i))

callback = Delegate.CreateDelegate(
    clr.GetClrType(TimerCallback), clr.GetClrType(GC).GetMethod("KeepAlive"))
timers = collections["Timers"]
for i in range(1000):
    timers.Add(Timer(callback, None, 3_600_000, -1))

for name, value in collections.items():
    holders.GetField(name).SetValue(None, value)
# Only the static fields hold them now (and the Python objects, dropped here).
del q, s, hs, cq, bag, sd, ll, timers, collections, callback, name, value
GC.Collect()
