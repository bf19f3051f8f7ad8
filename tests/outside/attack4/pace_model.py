# fit simple limiter models to the observed pace results (which update ends the link)
obs = [(0,0.0,3),(0,0.3,3),(0,0.8,3),(0,2,3),(0,5,3),(0.5,0.3,4),(0.8,0.3,8),(0.9,0.3,14),(0.9,3,21),(0.95,0.3,27),(1.0,0.3,None)]
def tick_model(r,d,phi,cap=2,init=2,N=40):
    tok=init; nxt=phi
    for k in range(1,N+1):
        t=d+(k-1)*r
        while nxt<=t: tok=min(cap,tok+1); nxt+=1
        if tok<1: return k
        tok-=1
    return None
def bucket(r,d,cap=2,init=2,N=40):
    tok=init; last=0
    for k in range(1,N+1):
        t=d+(k-1)*r; tok=min(cap,tok+(t-last)); last=t
        if tok<1-1e-9: return k
        tok-=1
    return None
print("strict bucket:", [(r,d,o,bucket(r,d)) for r,d,o in obs])
for phi in [i/20 for i in range(20)]:
    res=[tick_model(r,d,phi) for r,d,o in obs]
    ok=all(x==o for x,(r,d,o) in zip(res,obs))
    print(phi, ok, res)
